// nfp_demo: one demonstration episode, stored as one HDF5 file in ALOHA layout.
//
//   /observations/qpos          [T,14] float64
//   /observations/qvel          [T,14] float64
//   /observations/images/head   [T,H,W,3] uint8   (only when images were recorded)
//   /observations/object_state  [T,K] float64     (task-specific object poses)
//   /action                     [T,14] float64    (joint targets commanded at step t)
//   attributes on /: task (string), seed (int64), control_hz (float64),
//                    success (int), format_version (int)
//
// The readers also take episodes recorded by the ALOHA / ACT tools as they are: none of
// the attributes above (at most 'sim' and 'compress'), /observations/qpos, qvel and
// /action of [T,14], and one dataset [T,H,W,3] uint8 per camera under /observations/images
// (cam_high, cam_low, cam_left_wrist, ..., 'top' in ACT's simulated tasks). Their task is
// the folder's name, their seed the N of episode_N.hdf5 (else -1), their rate 50 Hz (ACT's
// DT) and their success unknown (-1). JPEG-compressed frames are refused with a message.
#ifndef NFP_DEMO_H
#define NFP_DEMO_H

#include <stdint.h>

#include "nfp/episode.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_DEMO_FORMAT_VERSION 1

// The longest camera name (with its NUL), and the most cameras nfp_demo_probe lists.
#define NFP_DEMO_CAMERA_NAME 64
#define NFP_DEMO_MAX_CAMERAS 16

typedef enum { NFP_DEMO_LAYOUT_NFP, NFP_DEMO_LAYOUT_ALOHA } nfp_demo_layout;

// What a file holds besides the episode: its layout and its cameras.
typedef struct {
  nfp_demo_layout layout;
  int sim;         // ALOHA's attribute 'sim': 1, 0, or -1 when absent
  int compressed;  // ALOHA's attribute 'compress' (JPEG frames): 1, 0, or -1 when absent
  int n_cameras;   // datasets under /observations/images, sorted by name
  char cameras[NFP_DEMO_MAX_CAMERAS][NFP_DEMO_CAMERA_NAME];
  int default_camera;  // the index read when none is asked for (cam_high, else the
                       // first); -1 when there are no cameras
} nfp_demo_info;

// Write atomically (temporary file in the same folder, then rename). 0 or -1.
int nfp_demo_write(const char* path, const nfp_episode* ep);
// Read and validate a file written by nfp_demo_write; images are skipped unless
// with_images. 0, or -1 with a message naming the file and what is wrong.
int nfp_demo_read(const char* path, nfp_episode* ep, int with_images);
// nfp_demo_read with the camera to read (NULL: cam_high when there is one, else the first
// by name; nfp's own files have one, 'head'). An unknown camera is refused with a message
// listing those in the file, also when images are skipped.
int nfp_demo_read_camera(const char* path, nfp_episode* ep, int with_images,
                         const char* camera);
// path's layout, 'sim' and 'compress' attributes and cameras -> *info. 0, or -1 (error set)
// when it is not an HDF5 file or neither layout's.
int nfp_demo_probe(const char* path, nfp_demo_info* info);

// List the episode files (*.hdf5, sorted by name) in a folder. Returns the count
// and a malloc'd array of malloc'd paths in *paths, or -1.
int nfp_demo_list(const char* dir, char*** paths);
void nfp_demo_list_free(char** paths, int n);

// Read every episode of a folder (sorted by name; images only if with_images) into a
// malloc'd array *eps. The count (>= 1), or -1 with a message naming the folder when it
// is missing or empty, the file when one is damaged, or a file whose joints differ.
int nfp_demo_read_folder(const char* dir, nfp_episode** eps, int with_images);
// nfp_demo_read_folder with the camera to read from each file (NULL: as nfp_demo_read_camera).
int nfp_demo_read_folder_camera(const char* dir, nfp_episode** eps, int with_images,
                                const char* camera);
// Free the n episodes of nfp_demo_read_folder and the array.
void nfp_demo_free_all(nfp_episode* eps, int n);
// nfp_demo_list for a folder that must hold episodes: the count (>= 1), or -1 with a
// message naming the folder when it cannot be read or holds none.
int nfp_demo_list_some(const char* dir, char*** paths);

#ifdef __cplusplus
}
#endif
#endif
