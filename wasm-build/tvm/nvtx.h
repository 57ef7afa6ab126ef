/*
 * webchuan's stand-in for TVM's include/tvm/support/cuda/nvtx.h, which the apache-tvm 0.27 wheel does
 * not ship although src/runtime/vm/{attn_utils.h,paged_kv_cache.cc,vm.cc} include it. NVTX is NVIDIA's
 * profiler markup; TVM compiles it to nothing unless built with TVM_NVTX_ENABLED, and a WebGPU runtime
 * never is. So this declares the same names, doing nothing.
 */
#ifndef TVM_SUPPORT_CUDA_NVTX_H_
#define TVM_SUPPORT_CUDA_NVTX_H_

#include <string>

namespace tvm {
namespace support {

class NVTXScopedRange {
 public:
  explicit NVTXScopedRange(const char*) {}
  explicit NVTXScopedRange(const std::string&) {}
  NVTXScopedRange(const NVTXScopedRange&) = delete;
  NVTXScopedRange& operator=(const NVTXScopedRange&) = delete;
};

}  // namespace support
}  // namespace tvm

#define TVM_NVTX_FUNC_SCOPE()

#endif  // TVM_SUPPORT_CUDA_NVTX_H_
