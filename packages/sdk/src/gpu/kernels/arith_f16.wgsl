// Arithmetic type of the group kernels: IEEE half (needs the shader-f16 feature; `enable f16;` is
// put at the top of the module by the descriptor, since enables must precede every declaration).
alias F = f16;
