// The C side of the HDF5 layer. This module provides no stable Swift API: it exists because
// Swift cannot import HDF5's object-like macros (H5P_DEFAULT, H5F_ACC_TRUNC, H5T_NATIVE_FLOAT, ...),
// which expand to expressions or to globals that need H5open() first. Each is one inline function.
#ifndef L2L_CHDF5_SHIM_H
#define L2L_CHDF5_SHIM_H

#include <hdf5.h>

#define L2L_INLINE static inline __attribute__((__always_inline__))

// Property lists and error stacks
L2L_INLINE hid_t l2l_H5P_DEFAULT(void) { return H5P_DEFAULT; }
L2L_INLINE hid_t l2l_H5E_DEFAULT(void) { return H5E_DEFAULT; }
L2L_INLINE hid_t l2l_H5S_ALL(void) { return H5S_ALL; }
L2L_INLINE hid_t l2l_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
L2L_INLINE hid_t l2l_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
L2L_INLINE hid_t l2l_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }

// File access flags
L2L_INLINE unsigned l2l_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
L2L_INLINE unsigned l2l_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
L2L_INLINE unsigned l2l_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
L2L_INLINE unsigned l2l_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }

// Dataspaces
L2L_INLINE hsize_t l2l_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }

// Native element types (each expands to a global that H5open() initialises)
L2L_INLINE hid_t l2l_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
L2L_INLINE hid_t l2l_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
L2L_INLINE hid_t l2l_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
L2L_INLINE hid_t l2l_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
L2L_INLINE hid_t l2l_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
L2L_INLINE hid_t l2l_H5T_C_S1(void) { return H5T_C_S1; }
L2L_INLINE size_t l2l_H5T_VARIABLE(void) { return H5T_VARIABLE; }

/// Turns off HDF5's automatic printing of its error stack; the Swift layer reads it instead.
L2L_INLINE herr_t l2l_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// The kind of object `name` refers to below `loc`: a group, a dataset, another object type
/// (H5O_TYPE_*), or H5O_TYPE_UNKNOWN when it cannot be read.
L2L_INLINE H5O_type_t l2l_object_type(hid_t loc, const char *name) {
    H5O_info_t info;
    if (H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        return H5O_TYPE_UNKNOWN;
    }
    return info.type;
}

#endif
