/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel fields that lead from a file descriptor to its socket's addresses, declared
 * by name only: CO-RE relocates them against the running kernel's BTF (merged into the
 * custom BTF at load time). Members the kernel keeps in anonymous unions (skc_daddr,
 * skc_rcv_saddr, ...) are found by libbpf through those unions.
 */
#ifndef BTF_AGENT_KERNEL_TYPES_H
#define BTF_AGENT_KERNEL_TYPES_H

#define KPRESERVE __attribute__((preserve_access_index))

struct in6_addr {
	unsigned char bytes[16];
} KPRESERVE;

struct sock_common {
	unsigned short skc_family;
	unsigned short skc_num;      /* local port, host order */
	unsigned short skc_dport;    /* remote port, network order */
	unsigned int skc_daddr;
	unsigned int skc_rcv_saddr;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} KPRESERVE;

struct sock {
	struct sock_common __sk_common;
} KPRESERVE;

struct socket {
	struct sock *sk;
} KPRESERVE;

struct inode {
	unsigned short i_mode;
} KPRESERVE;

struct file {
	struct inode *f_inode;
	void *private_data;
} KPRESERVE;

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} KPRESERVE;

struct files_struct {
	struct fdtable *fdt;
} KPRESERVE;

struct task_struct {
	struct files_struct *files;
} KPRESERVE;

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10

#endif
