package backprop

import (
	"fmt"

	"gorgonia.org/gorgonia"
)

// Trainer trains a Net's parameters by gradient ascent on the batch-mean
// sum-rates with gorgonia's Adam solver (Kingma and Ba 2015, as PyTorch's
// torch.optim.Adam with its defaults): for the gradient g of the loss at
// step k = 1, 2, ...,
//
//	m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2
//	theta <- theta - lr (m / (1 - beta1^k)) / (sqrt(v / (1 - beta2^k)) + eps)
//
// with beta1 = 0.9, beta2 = 0.999, eps = 1e-8, element by element, so
// every parameter set moves independently of the others.
type Trainer struct {
	net    *Net
	solver *gorgonia.AdamSolver
	model  []gorgonia.ValueGrad
}

// Adam's constants (PyTorch's defaults, also gorgonia's).
const (
	AdamBeta1 = 0.9
	AdamBeta2 = 0.999
	AdamEps   = 1e-8
)

// NewTrainer returns an Adam trainer of net's parameters with learning
// rate lr. net must have been built with gradients.
func NewTrainer(net *Net, lr float64) (*Trainer, error) {
	if !net.grads {
		return nil, fmt.Errorf("backprop: the net was built without gradients")
	}
	if !(lr > 0) {
		return nil, fmt.Errorf("backprop: learning rate %v, want > 0", lr)
	}
	return &Trainer{
		net: net,
		solver: gorgonia.NewAdamSolver(gorgonia.WithLearnRate(lr),
			gorgonia.WithBeta1(AdamBeta1), gorgonia.WithBeta2(AdamBeta2), gorgonia.WithEps(AdamEps)),
		model: gorgonia.NodesToValueGrads(net.params),
	}, nil
}

// Step runs the net on its current samples, which gives the batch-mean
// sum-rates of the current parameters (Net.SumRates) and their gradient,
// and then takes one Adam step.
func (tr *Trainer) Step() error {
	if err := tr.net.Run(); err != nil {
		return err
	}
	return tr.Update()
}

// Update takes one Adam step with the gradient of the net's last Run, and
// clears that gradient.
func (tr *Trainer) Update() error {
	if err := tr.solver.Step(tr.model); err != nil {
		return fmt.Errorf("backprop: Adam step: %w", err)
	}
	return nil
}
