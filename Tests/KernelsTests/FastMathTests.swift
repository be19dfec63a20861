import Foundation
import Testing
@testable import Kernels

struct FastMathTests {
    @Test func erfIsWithinOneMillionthRelative() {
        var worst = 0.0
        var x = -6.0
        while x <= 6.0 {
            let xf = Float(x)
            let exact = Foundation.erf(Double(xf))
            let approx = Double(FastMath.erf(xf))
            if exact != 0 { worst = max(worst, abs(approx - exact) / abs(exact)) }
            x += 0.000_37
        }
        for tiny: Float in [1e-30, 1e-20, 1e-10, 1e-5, -1e-7] {
            let exact = Foundation.erf(Double(tiny))
            worst = max(worst, abs(Double(FastMath.erf(tiny)) - exact) / abs(exact))
        }
        #expect(worst <= 1e-6, "max relative error \(worst)")
        #expect(FastMath.erf(0) == 0)
        #expect(FastMath.erf(100) == 1)
        #expect(FastMath.erf(-.infinity) == -1)
    }

    @Test func expIsAccurateAndSaturates() {
        var worst = 0.0
        var x = -87.0
        while x <= 88.0 {
            let xf = Float(x)
            let exact = Foundation.exp(Double(xf))
            worst = max(worst, abs(Double(FastMath.exp(xf)) - exact) / exact)
            x += 0.0131
        }
        #expect(worst <= 3e-7, "max relative error \(worst)")
        #expect(FastMath.exp(0) == 1)
        #expect(FastMath.exp(-.infinity) == 0)
        #expect(FastMath.exp(-200) == 0)
        #expect(FastMath.exp(200) == .infinity)
    }

    @Test func expNonPositiveMatchesExp() {
        var x: Float = -90
        while x <= 0 {
            let v = FastMath.expNonPositive(FastMath.Vector(repeating: x))[0]
            #expect(abs(Double(v) - Foundation.exp(Double(x))) <= 3e-7 * Foundation.exp(Double(x)) + 1.2e-38, "\(x)")
            x += 0.0173
        }
        #expect(FastMath.expNonPositive(FastMath.Vector(repeating: -.infinity))[0] == 0)
        #expect(FastMath.expNonPositive(FastMath.Vector(repeating: 0))[0] == 1)
    }

    @Test func vectorLanesAreIndependent() {
        let x = SIMD16<Float>(-3, -1, -0.5, 0, 0.25, 1, 2, 5, -80, -87.5, 88, 90, 1e-20, -1e-30, 3.9, -4.1)
        let e = FastMath.exp(x)
        let f = FastMath.erf(x)
        for i in 0..<16 {
            #expect(e[i] == FastMath.exp(x[i]))
            #expect(f[i] == FastMath.erf(x[i]))
        }
    }
}
