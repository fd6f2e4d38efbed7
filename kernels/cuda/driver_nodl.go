//go:build !(darwin || freebsd || linux || netbsd)

package cuda

import "errors"

// errNoDlopen is the error of dlopen and dlsym where the system has no
// dynamic loader that purego can call.
var errNoDlopen = errors.New("dynamic loading of the CUDA driver is not supported on this system")

func dlopen(path string) (uintptr, error)           { return 0, errNoDlopen }
func dlsym(h uintptr, name string) (uintptr, error) { return 0, errNoDlopen }
func register(fptr any, addr uintptr)               {}
