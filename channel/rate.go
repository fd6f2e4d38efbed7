package channel

import "math"

// Rates writes the achievable rate of every link of an N-link interference
// channel to out (bit/s/Hz), treating interference as noise:
//
//	r_i = log2(1 + H[i][i]^2 p_i / (sigma2 + sum_{j != i} H[i][j]^2 p_j))
//
// h holds the amplitudes row-major, h[r*N+j] = H[r][j] from transmitter j to
// receiver r; p holds the transmit powers. It is the float64 reference that
// the batched kernels are tested against.
func Rates(h, p []float64, sigma2 float64, out []float64) {
	n := len(p)
	for i := 0; i < n; i++ {
		row := h[i*n : i*n+n]
		interference := sigma2
		for j, a := range row {
			if j != i {
				interference += a * a * p[j]
			}
		}
		signal := row[i] * row[i] * p[i]
		out[i] = math.Log2(1 + signal/interference)
	}
}

// SumRate returns sum_i r_i for amplitudes h and powers p (see Rates).
func SumRate(h, p []float64, sigma2 float64) float64 {
	n := len(p)
	sum := 0.0
	for i := 0; i < n; i++ {
		row := h[i*n : i*n+n]
		interference := sigma2
		for j, a := range row {
			if j != i {
				interference += a * a * p[j]
			}
		}
		sum += math.Log2(1 + row[i]*row[i]*p[i]/interference)
	}
	return sum
}
