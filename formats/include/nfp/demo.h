// nfp_demo: one demonstration episode, stored as one HDF5 file in ALOHA layout.
//
//   /observations/qpos          [T,14] float64
//   /observations/qvel          [T,14] float64
//   /observations/images/head   [T,H,W,3] uint8   (only when images were recorded)
//   /observations/object_state  [T,K] float64     (task-specific object poses)
//   /action                     [T,14] float64    (joint targets commanded at step t)
//   attributes on /: task (string), seed (int64), control_hz (float64),
//                    success (int), format_version (int)
#ifndef NFP_DEMO_H
#define NFP_DEMO_H

#include <stdint.h>

#include "nfp/episode.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_DEMO_FORMAT_VERSION 1

// Write atomically (temporary file in the same folder, then rename). 0 or -1.
int nfp_demo_write(const char* path, const nfp_episode* ep);
// Read and validate a file written by nfp_demo_write; images are skipped unless
// with_images. 0, or -1 with a message naming the file and what is wrong.
int nfp_demo_read(const char* path, nfp_episode* ep, int with_images);

// List the episode files (*.hdf5, sorted by name) in a folder. Returns the count
// and a malloc'd array of malloc'd paths in *paths, or -1.
int nfp_demo_list(const char* dir, char*** paths);
void nfp_demo_list_free(char** paths, int n);

// Read every episode of a folder (sorted by name; images only if with_images) into a
// malloc'd array *eps. The count (>= 1), or -1 with a message naming the folder when it
// is missing or empty, the file when one is damaged, or a file whose joints differ.
int nfp_demo_read_folder(const char* dir, nfp_episode** eps, int with_images);
// Free the n episodes of nfp_demo_read_folder and the array.
void nfp_demo_free_all(nfp_episode* eps, int n);
// nfp_demo_list for a folder that must hold episodes: the count (>= 1), or -1 with a
// message naming the folder when it cannot be read or holds none.
int nfp_demo_list_some(const char* dir, char*** paths);

#ifdef __cplusplus
}
#endif
#endif
