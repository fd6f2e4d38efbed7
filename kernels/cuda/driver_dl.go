//go:build darwin || freebsd || linux || netbsd

package cuda

import "github.com/ebitengine/purego"

// dlopen opens the shared library at path with all its symbols bound now
// and made global, as the CUDA driver expects.
func dlopen(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// dlsym returns the address of the symbol name of the library h.
func dlsym(h uintptr, name string) (uintptr, error) {
	return purego.Dlsym(h, name)
}

// register sets the function pointed to by fptr to call the C function
// at addr.
func register(fptr any, addr uintptr) {
	purego.RegisterFunc(fptr, addr)
}
