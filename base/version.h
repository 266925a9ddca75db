/* tcc's version, printed by `tcc --version` and recorded in every module it builds. */
#ifndef TCC_BASE_VERSION_H
#define TCC_BASE_VERSION_H
#define TCC_VERSION "0.1.0"
#endif
