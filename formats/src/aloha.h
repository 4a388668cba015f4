// Private: the layouts an episode file may have (nfp's own, ALOHA / ACT's; nfp/demo.h) and
// the cameras under /observations/images, shared by the reader (demo.c) and aloha.c.
#ifndef NFP_FORMATS_ALOHA_H
#define NFP_FORMATS_ALOHA_H

#include <stddef.h>

#include <hdf5.h>

#include "nfp/demo.h"

// ACT records at DT = 0.02 s.
#define NFP_ALOHA_HZ 50.0
// Two arms of 6 joints and a gripper: the width of qpos, qvel and action.
#define NFP_ALOHA_NQ 14

// The open file f at path -> 1 ALOHA's layout (none of nfp's attributes, /observations/qpos
// there), 0 nfp's own (any of its attributes), -1 neither (error set).
int nfp_aloha_detect(const char* path, hid_t f);
// An ALOHA file -> head's task (the folder's name), seed (N of episode_N.hdf5, else -1),
// control_hz and success (-1), once the datasets it needs are there and qpos is 14 wide.
// 0 or -1 (error set, naming what is missing).
int nfp_aloha_header(const char* path, hid_t f, nfp_episode* head);
// The camera to read (want; NULL: cam_high, else the first by name) -> its dataset
// "observations/images/NAME" into dset, "" when the file has none and none was asked for.
// with_images: also refuse JPEG-compressed frames. 0 or -1 (error set; an unknown camera
// lists those in the file).
int nfp_demo_camera_dset(const char* path, hid_t f, const char* want, int with_images,
                         char* dset, size_t cap);

#endif
