/* Generated from SprigABI by `sprig build` (Sources/SprigTool/KernelConstants.swift): do not edit. */
#ifndef SPRIG_KERNEL_CONSTANTS_H
#define SPRIG_KERNEL_CONSTANTS_H
/* KernelLayout.base: the kernel's virtual base. */
#define KERNEL_VMA 0xFFFFFFFF80000000
/* Delivery.errorCodeVectors: bit v set when CPU exception v pushes an error code. */
#define ERROR_CODE_VECTORS 0x60227D00
#endif
