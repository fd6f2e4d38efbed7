#!/usr/bin/env bash
# Makes sure the C and C++ compilers the GPU backend's tests use are
# installed: gcc builds a stand-in CUDA driver library for the driver
# binding's tests, and a C++ compiler builds the host emulator of the CUDA
# kernels (kernels/cuda/emu). Where one is missing it installs Debian's g++
# (which brings gcc) with apt-get when run as root; otherwise it says which
# tests will be skipped (under CI, CI=true, they fail instead).
set -euo pipefail

have_cxx=0
for cxx in "${CXX:-}" g++ c++ clang++; do
	if [ -n "$cxx" ] && command -v "$cxx" >/dev/null 2>&1; then
		have_cxx=1
		break
	fi
done
if [ "$have_cxx" = 1 ] && command -v gcc >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "make test: gcc or g++ missing: the tests of the CUDA driver binding and of the CUDA kernels on the host emulator are skipped (install g++, or run as root to have it installed)" >&2
	exit 0
fi
echo "make test: installing g++ with apt-get (for the tests of the GPU backend)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends g++ >/dev/null; then
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends g++ >/dev/null
fi
