// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The producer side of it-tests' ring reader benchmark (io.btfagent.bench.RingReaderBench), not
 * used by the agent: run once through BPF_PROG_TEST_RUN, it writes ctx->records records of
 * ctx->size bytes into the ring buffer the agent's RingBuffer maps, as the capture program
 * would, so the benchmark times the Java reader alone on real kernel-written records.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* The SPDX line above as the kernel spells it (the same for every BPF program here). */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_SIZE 256

struct fill_args {
	__u32 records;
	__u32 size;
	__u32 written; /* out */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* replaced by the benchmark's own ring (bpf_map__reuse_fd) */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[MAX_SIZE]);
} payload SEC(".maps");

static long fill_one(__u32 index, void *data)
{
	struct fill_args *a = data;
	__u32 zero = 0;
	__u8 *p = bpf_map_lookup_elem(&payload, &zero);
	__u32 size = a->size;

	if (!p)
		return 1;
	if (size > MAX_SIZE)
		size = MAX_SIZE;
	*(__u32 *)p = index;
	if (bpf_ringbuf_output(&events, p, size, BPF_RB_NO_WAKEUP))
		return 1;
	a->written++;
	return 0;
}

SEC("syscall")
int ring_fill(struct fill_args *ctx)
{
	struct fill_args a = {.records = ctx->records, .size = ctx->size};

	bpf_loop(a.records, fill_one, &a, 0);
	ctx->written = a.written;
	return 0;
}
