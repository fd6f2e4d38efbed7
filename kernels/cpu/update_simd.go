package cpu

import "github.com/batchrun/batchrun/kernels"

// UpdateAVX512 applies the age-grouped zeroth-order update (see
// kernels.Update) with the AVX-512 axpy of rates_amd64.s, or in Go on CPUs
// without AVX-512 (and on other architectures). Its results are
// bit-identical to Backend.Update's: every element is updated as
// y += float32(c*x) (VMULPS then VADDPS, no FMA), one nonzero coefficient
// after the other in slot order, like the generic axpy. It allocates
// nothing.
func UpdateAVX512(u *kernels.Update) { updateWith(u, updAxpy512) }

// UpdateAVX2 is UpdateAVX512 with the AVX2 axpy (same bits).
func UpdateAVX2(u *kernels.Update) { updateWith(u, updAxpy256) }

// updateWith runs Update with the given axpy.
func updateWith(u *kernels.Update, axpy func(y, x []float32, a float32)) {
	P := u.P
	for s := 0; s < u.S; s++ {
		for k := 0; k < u.N; k++ {
			theta := u.Theta[s*u.ThetaSeedStride+k*u.ThetaAgentStride:][:P]
			ring := u.Ring[s*u.RingSeedStride+k*u.RingAgentStride:]
			coef := u.Coef[(s*u.N+k)*u.Slots:][:u.Slots]
			for j, c := range coef {
				if c == 0 {
					continue
				}
				axpy(theta, ring[j*P:j*P+P], c)
			}
		}
	}
}

// updAxpyGo sets y[i] += float32(a*x[i]) for i < len(y): the generic axpy
// and the twin of the updAxpy kernels.
func updAxpyGo(y, x []float32, a float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += float32(a * x[i])
	}
}
