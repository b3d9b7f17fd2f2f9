// SPDX-License-Identifier: Apache-2.0
/*
 * Version 2: a member b inserted before c moves c from offset 4 to 8. A BPF
 * program compiled against version 1 reads the right c here only when CO-RE
 * relocates it against this build's BTF. Keep in step with ../v1/coredemo.c.
 */
struct data {
	int a;
	int b;
	int c;
	int d;
};

int add_test(struct data *d)
{
	return d->a + d->c;
}
