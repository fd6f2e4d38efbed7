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
	for i := range p {
		out[i] = linkRate(h, p, sigma2, i)
	}
}

// SumRate returns sum_i r_i for amplitudes h and powers p (see Rates).
func SumRate(h, p []float64, sigma2 float64) float64 {
	sum := 0.0
	for i := range p {
		sum += linkRate(h, p, sigma2, i)
	}
	return sum
}

// linkRate is r_i of Rates. Interference is summed over j != i directly
// (never as a total minus the own term, which would cancel).
func linkRate(h, p []float64, sigma2 float64, i int) float64 {
	n := len(p)
	row := h[i*n : i*n+n]
	interference := sigma2
	for j, a := range row {
		if j != i {
			interference += float64(a * a * p[j])
		}
	}
	return math.Log2(1 + row[i]*row[i]*p[i]/interference)
}
