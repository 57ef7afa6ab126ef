// Arithmetic type of the group kernels: float32.
alias F = f32;
