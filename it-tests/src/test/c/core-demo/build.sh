#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Builds both versions of the CO-RE demo library into OUT/{v1,v2}/libcoredemo.so,
# each with DWARF and a GNU build-id, and gives each its detached BTF
# OUT/{v1,v2}/libcoredemo.btf, the way native-targets does for real libraries
# (-gdwarf-4 -gstrict-dwarf: what pahole 1.24 encodes correctly).
#
# Usage: build.sh OUT   (run from this directory: relative sources keep the
# DWARF, and so the BTF, independent of the checkout's location)
set -eu
out=$1
for v in v1 v2; do
	mkdir -p "$out/$v"
	gcc -g -gdwarf-4 -gstrict-dwarf -O2 -shared -fPIC -Wl,--build-id \
		-o "$out/$v/libcoredemo.so" "$v/coredemo.c"
	pahole --btf_encode_detached="$out/$v/libcoredemo.btf" "$out/$v/libcoredemo.so"
done
