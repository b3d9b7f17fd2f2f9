// SPDX-License-Identifier: Apache-2.0
/*
 * Version 1 of a library whose struct grows between releases, like ssl_st and
 * bio_st do in OpenSSL. CoreDemoIT probes add_test with one BPF object built
 * against this layout. Keep in step with ../v2/coredemo.c: only the layout of
 * struct data may differ.
 */
struct data {
	int a;
	int c;
	int d;
};

int add_test(struct data *d)
{
	return d->a + d->c;
}
