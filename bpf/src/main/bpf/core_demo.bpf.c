// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The userspace-CO-RE idea on its own, without TLS: a test program for
 * it-tests' CoreDemoIT, not used by the agent.
 *
 * It is compiled once, against the OLD layout of the demo library's struct
 * (v1: a, c, d). Because the struct is preserve_access_index, the offsets of
 * d->a and d->c are CO-RE relocations: libbpf resolves them at load time
 * against whatever BTF the object is opened with. Given the BTF of v2 (a, b,
 * c, d), the read of c moves from offset 4 to 8; given v1's BTF for a v2
 * library, it stays at 4 and reads b, which is the wrong data a BTF catalog
 * keyed by build-id exists to prevent.
 *
 * pt_regs.h is the agent's: the argument register is a kernel CO-RE
 * relocation too, so this object needs the kernel BTF and the library BTF in
 * one file, which is what BtfMerger produces.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "pt_regs.h"

/* The SPDX line above as the kernel spells it (the same for every BPF program here). */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Only the members read here are declared; their names, not their order,
 * tie them to the library's struct data. The layout written is v1's.
 */
struct data {
	int a;
	int c;
} __attribute__((preserve_access_index));

/* One record per add_test call; CoreDemoIT reads a@0, c@4, pid@8. */
struct core_demo_read {
	__s32 a;
	__s32 c;
	__u32 pid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} reads SEC(".maps");

SEC("uprobe")
int add_test_enter(struct pt_regs *ctx)
{
	struct data *d = (void *)ARG1(ctx);
	struct core_demo_read *r;

	r = bpf_ringbuf_reserve(&reads, sizeof(*r), 0);
	if (!r)
		return 0;
	r->a = BPF_CORE_READ_USER(d, a);
	r->c = BPF_CORE_READ_USER(d, c);
	r->pid = bpf_get_current_pid_tgid() >> 32;
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}
