import RealModule
import CBLAS

/// Matrix products through BLAS (BLIS's `cblas_sgemm`), row-major throughout.
///
/// The optimizee's products (the MLP on a minibatch, and the benchmark's peak). The LSTM's
/// products have a few dozen rows by thousands of columns, a shape BLAS handles poorly: they are
/// register-tiled kernels of their own in CKernels.
public enum Matrix {
    /// C (m×n) = alpha · op(A) · op(B) + beta · C, with op(A) m×k and op(B) k×n.
    ///
    /// - Parameters:
    ///   - transposeA: use Aᵀ, A being stored k×m.
    ///   - transposeB: use Bᵀ, B being stored n×k.
    ///   - lda: A's row stride, when A is part of a wider matrix (default: its own width).
    @inlinable
    public static func multiply(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 0, lda: Int? = nil
    ) {
        if m == 0 || n == 0 { return }
        let lda = lda ?? (transposeA ? m : k)
        let ldb = transposeB ? k : n
        cblas_sgemm(
            L2L_CblasRowMajor, transposeA ? L2L_CblasTrans : L2L_CblasNoTrans, transposeB ? L2L_CblasTrans : L2L_CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)), beta, c, Int32(max(n, 1)))
    }

    /// Runs `body` with denormal floats flushed to zero on the calling thread (x86 FTZ and DAZ),
    /// then restores the thread's previous mode.
    ///
    /// Why: the LSTM's backward pass produces denormal values, which make the matrix kernels and
    /// the element-wise loops up to 100× slower per operation (measured: meta-training 2.4× slower
    /// overall). TensorFlow, which the paper's code ran on, flushes them on CPUs too.
    @inlinable
    public static func withDenormalsFlushed<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        let saved = l2l_get_fp_control()
        l2l_set_fp_control(saved | l2l_flush_denormals_bits())
        defer { l2l_set_fp_control(saved) }
        return try body()
    }

    /// The BLAS library and the kernel set it picked for this processor (`BLIS 0.9.0, skx`).
    public static var blasDescription: String {
        let version = bli_info_get_version_str().map { String(cString: $0) } ?? "?"
        let kernel = bli_arch_string(bli_arch_query_id()).map { String(cString: $0) } ?? "?"
        return "BLIS \(version), kernels \(kernel)"
    }

    /// Sets the number of threads BLIS's products use.
    public static func setThreads(_ count: Int) {
        bli_thread_set_num_threads(Int64(max(count, 1)))
    }
}

/// σ(x) = 1 / (1 + e^(−x)).
@inlinable
func sigmoid(_ x: Float) -> Float {
    1 / (1 + Float.exp(-x))
}
