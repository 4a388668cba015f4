// Output files and folders of the verbs.
#ifndef NFP_APP_FILES_H
#define NFP_APP_FILES_H

// Make sure `dir` is a folder we can write into. A missing folder is created when
// its parent exists (*created = 1). 0 or -1 (error set).
int nfp_dir_prepare(const char* dir, int* created);

// Check early that a file can be created at path (probe, then remove it). 0 or -1.
int nfp_file_check_writable(const char* path);

// Write text to path atomically (temporary file in the same folder, then rename). 0 or -1.
int nfp_text_write(const char* path, const char* text);

#endif
