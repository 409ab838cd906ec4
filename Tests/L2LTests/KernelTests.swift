import CKernels
import Foundation
import Testing

/// The vectorised kernels' tanh and σ against glibc's, over the whole range the LSTM meets.
@Suite("element-wise kernels")
struct KernelTests {
    @Test("tanh and σ are within 4e-7 of glibc's, saturate exactly, and are odd / symmetric")
    func accuracy() {
        var worstTanh: Float = 0, worstSigmoid: Float = 0
        var x: Float = -20
        while x <= 20 {
            worstTanh = max(worstTanh, abs(l2l_tanh(x) - Foundation.tanh(x)))
            worstSigmoid = max(worstSigmoid, abs(l2l_sigmoid(x) - 1 / (1 + Foundation.exp(-x))))
            #expect(l2l_tanh(-x) == -l2l_tanh(x))
            x += 0.000_731
        }
        #expect(worstTanh < 4e-7, "worst tanh error \(worstTanh)")
        #expect(worstSigmoid < 4e-7, "worst σ error \(worstSigmoid)")
        #expect(l2l_tanh(0) == 0 && l2l_tanh(100) == 1 && l2l_tanh(-.infinity) == -1)
        #expect(l2l_sigmoid(0) == 0.5)
    }

    @Test("σ(x) is (1 + tanh(x/2))/2 bit for bit, though it never computes x/2")
    func sigmoidIsHalvedTanh() {
        var x: Float = -40
        while x <= 40 {
            #expect(l2l_sigmoid(x) == 0.5 + 0.5 * l2l_tanh(0.5 * x), "at \(x)")
            x += 0.000_917
        }
    }
}
