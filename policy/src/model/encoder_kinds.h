// Private: the encoder kinds available to nfp_encoder_build.
#ifndef NFP_ENCODER_KINDS_H
#define NFP_ENCODER_KINDS_H

#include "nfp/model.h"

int nfp_encoder_state_build(nfp_encoder* enc, nfp_ptable* table, const char* prefix);
int nfp_encoder_image_build(nfp_encoder* enc, nfp_ptable* table, const char* prefix,
                            nfp_cnn_kind trunk);

#endif
