// Test scenes for the plugins: a folder with copies of the Lift Pot MJCF, a small
// policy checkpoint, and MJCF files that put the plugins on top of the scene.
#ifndef NFP_TEST_SCENE_H
#define NFP_TEST_SCENE_H

#include <stddef.h>

#include "nfp/model.h"

// Copy rig.xml, arm.xml, lift_pot.xml and parts/ (rig.xml, lift_pot.xml) from the asset
// folder into dir (MuJoCo resolves <include> against the main file's folder). 0 or -1.
int scene_copy_assets(const char* dir);
// A default-configuration policy with seeded, slightly perturbed weights (not the
// identity flow) and normalisation statistics from two scripted-expert episodes. It
// observes the joints and, with_object, Lift Pot's object state too (as `nfp train`
// makes it from demos that record one).
nfp_model* scene_policy(int with_object);
// A small image policy in the same way: the CNN encoder over the 240 x 320 head camera
// (shrunk 4 times, 56 x 72 centre crop) and the joints.
nfp_model* scene_image_policy(void);
// scene_policy() saved as a checkpoint. 0 or -1 (message in nfp_error_last()).
int scene_checkpoint(const char* path, int with_object);
// scene_image_policy() saved as a checkpoint. 0 or -1.
int scene_image_checkpoint(const char* path);
// Write dir/name: <mujoco> declaring the arm model and including parts/rig.xml and
// parts/lift_pot.xml (as assets/lift_pot_nfp.xml does), then `body`. 0 or -1.
int scene_mjcf(const char* dir, const char* name, const char* body);

#endif
