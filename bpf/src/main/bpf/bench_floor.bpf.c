// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The bare cost of a probe, for it-tests' benchmark (io.btfagent.bench), not used by the
 * agent: an entry uprobe and a return uprobe that only count their hits in a per-CPU
 * array (key 0: entries, key 1: returns, key 2: returns of a value <= 0, the calls that
 * transferred nothing, such as a want-read). No argument is read, nothing is copied and no
 * ring buffer is written, so the time this adds to a probed call is what any uprobe +
 * uretprobe pair costs on the machine, the floor under the agent's own capture.
 *
 * It reads no library type; the return register is relocated against the kernel's BTF
 * (pt_regs.h), the BTF the loader is given.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "pt_regs.h"

/* The SPDX line above as the kernel spells it (the same for every BPF program here). */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&hits, &key);

	if (n)
		(*n)++;
}

SEC("uprobe")
int floor_enter(void *ctx)
{
	count(0);
	return 0;
}

SEC("uretprobe")
int floor_exit(struct pt_regs *ctx)
{
	count(1);
	/* SSL_read/SSL_write return an int: <= 0 is an error or a want-read/want-write */
	if ((int)RET(ctx) <= 0)
		count(2);
	return 0;
}
