/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Linked into libbpf.so with -Wl,--wrap=fstat,--wrap=fstat64 (see
 * bin/build-libbpf.sh). glibc >= 2.33 exports fstat/fstat64 as
 * GLIBC_2.33 symbols; older glibc only has __fxstat. Calling the syscall
 * directly keeps the library loadable on glibc 2.28 .. 2.32 hosts too.
 * On the 64-bit Linux ABIs the kernel's struct stat is glibc's struct
 * stat (and stat64), so the buffer needs no conversion.
 */
#define _GNU_SOURCE /* struct stat64 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__LP64__)
#error "only for 64-bit targets: struct stat differs from the kernel's elsewhere"
#endif

__attribute__((visibility("hidden"))) int __wrap_fstat(int fd, struct stat *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}

__attribute__((visibility("hidden"))) int __wrap_fstat64(int fd, struct stat64 *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}
