/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * x86_64 registers as the kernel's own BTF names them. Declared with
 * preserve_access_index so the field offsets are relocated against the
 * running kernel's BTF (merged into the custom BTF at load time), instead of
 * depending on a generated vmlinux.h at build time.
 */
#ifndef BTF_AGENT_PT_REGS_H
#define BTF_AGENT_PT_REGS_H

struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));

/* System V AMD64 calling convention. */
#define ARG1(ctx) ((ctx)->di)
#define ARG2(ctx) ((ctx)->si)
#define ARG3(ctx) ((ctx)->dx)
#define ARG4(ctx) ((ctx)->cx)
#define RET(ctx) ((ctx)->ax)

#endif
