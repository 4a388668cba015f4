// A small chunked-control task behind nfp_arms for the fine-tuning tests: one joint must
// reach a goal drawn from the seed (observed as the object state) and stay within 0.05 of it.
#ifndef NFP_TEST_TOY_ARMS_H
#define NFP_TEST_TOY_ARMS_H

#include "nfp/arms.h"
#include "nfp/episode.h"

#define TOY_STEP_CAP 30
#define TOY_TOLERANCE 0.05

nfp_arms* toy_arms_create(void);
// The goal the arms lay out for seed.
double toy_goal(uint64_t seed);
// A demo from seed whose expert aims at goal + bias (a suboptimal demonstrator when bias is
// drawn wide): success as the arms judge it. 0 or -1.
int toy_demo(nfp_episode* ep, uint64_t seed, double bias);

#endif
