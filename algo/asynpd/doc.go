// Package asynpd is the asynpd experiment: asynchronous stochastic
// primal-dual resource allocation (Li, Yemini, Wai, arXiv 2509.01172), a
// server and n straggling workers on a simulated clock, against the
// synchronous primal-dual baseline.
//
// The problem (spec/asynpd.md) couples the workers' models theta_i in
// boxes C_i through constraints on their mean thetabar:
//
//	min sum_i f_i(theta_i)  s.t.  g_j(thetabar) <= 0,   f_i(theta) = E 0.5 ||theta - xi||^2,
//
// solved through the saddle point of the regularized Lagrangian
//
//	L(theta, lambda) = sum_i [f_i(theta_i) + alpha/2 ||theta_i||^2] + lambda^T G(thetabar) - beta/2 ||lambda||^2
//
// over theta_i in C_i and lambda in [0, lambda_max]^m. Problem.Solve finds
// that saddle point exactly (root finding for one constraint, projected
// extragradient for more); errors are measured against it.
//
// Sync-PD (runSync) runs rounds timed by the slowest worker; Asyn-PD
// (runAsyn) is event-driven: a priority queue of worker completions and
// server receives, with buffered workers that never wait and a buffered
// server that updates lambda and broadcasts on every receive. Step sizes
// are gamma_t = a / (b + t). Compute times, delays and outages come from
// the async package's models; every random number is a pure function of
// (seed, stream, counter), so a run is reproducible whatever else runs
// beside it.
package asynpd
