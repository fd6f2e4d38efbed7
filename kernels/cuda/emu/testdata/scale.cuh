// An include of kernels.cu, to test that includes resolve in its directory.
#pragma once

__device__ __forceinline__ unsigned scale_index(unsigned tx, unsigned ty, unsigned tz, unsigned bx, unsigned by,
                                                unsigned bz) {
	return tx | ty << 4 | tz << 8 | bx << 12 | by << 16 | bz << 20;
}
