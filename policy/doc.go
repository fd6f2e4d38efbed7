// Package policy holds the per-agent power-control policies of batchrun and
// the baselines they are measured against.
//
// # Model
//
// N wireless links (agents) share a band. Agent i observes a K-vector x_i and
// chooses its transmit power with its own multilayer perceptron: an Arch
// In -> Hidden[0] -> ... -> Hidden[L-1] -> 1 with parameters theta_i,
//
//	a_0     = x_i
//	a_l     = ReLU(W_l a_{l-1} + b_l),   l = 1..L
//	z       = W_{L+1} a_L + b_{L+1}
//	p_i     = Pmax * sigmoid(z),         sigmoid(z) = 1 / (1 + exp(-z))
//
// so that every power lies in [0, Pmax]. The paper uses K -> 30 -> 30 -> 1.
//
// # Parameters
//
// The parameters of one agent are float32 values in one flat vector, laid out
// like the state_dict of a PyTorch stack of nn.Linear layers: the weight of
// layer 0 ([Out][In], row-major), its bias ([Out]), the weight of layer 1, its
// bias, ..., ending with the output weight [1][Hidden[L-1]] and bias [1]
// (see Arch.Layers). InitUniform reproduces nn.Linear's default
// initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for every weight and
// bias of a layer with fan_in inputs. Forward64 is the float64 reference of
// the forward pass.
//
// # Baselines
//
// FullPower sets p_i = Pmax, RandomPower draws p_i ~ U(0, Pmax), and WMMSE is
// the weighted minimum mean-square error algorithm of Shi, Razaviyayn, Luo
// and He (2011) for the real SISO interference channel, with amplitudes
// h_ij from transmitter j to receiver i, noise power sigma2 and
// v_i = sqrt(p_i):
//
//	u_i = h_ii v_i / (sigma2 + sum_j h_ij^2 v_j^2)
//	w_i = 1 / (1 - u_i h_ii v_i)
//	v_i = clip(w_i u_i h_ii / sum_j w_j u_j^2 h_ji^2, 0, sqrt(Pmax))
//
// Each iteration is an exact block-coordinate step on the weighted MSE, whose
// minimum over (u, w) is N - ln 2 * sum_i r_i, so the sum-rate
//
//	sum_i r_i = sum_i log2(1 + h_ii^2 p_i / (sigma2 + sum_{j != i} h_ij^2 p_j))
//
// never decreases from one iteration to the next.
//
// # Randomness
//
// Every draw is a pure function of (key, stream, index) through package
// philox; there is no global state.
package policy
