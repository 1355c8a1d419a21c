package experiment

import "fmt"

// newModelBrowser starts the lab's browser model.
func newModelBrowser(env Env) (Browser, error) {
	return nil, fmt.Errorf("%w: the browser model (lab/browser) is not in this build", ErrUnavailable)
}
