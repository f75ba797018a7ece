import Foundation
import Testing
import TestSupport

@Suite struct GradcheckTests {
    let data = packagePath("Data/digits/train_votes.csv")

    @Test(arguments: ["kl", "ce", "reverse-kl", "js"], [[String](), ["--hidden", "8"]])
    func passesForEveryLossAndShape(_ loss: String, _ hidden: [String]) throws {
        let r = try runBinary(["gradcheck", data, "--loss", loss, "--sample", "8", "--max-entries", "40"] + hidden)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines[1] == "tensor               checked  max_rel_error  max_abs_error")
        #expect(lines.count == 3 + (hidden.isEmpty ? 2 : 4))
        #expect(lines.last == "passed: every tensor within relative error 0.001")
    }

    /// The check can fail: with an impossible tolerance it reports the tensors and exits 1.
    @Test func failsAboveTheTolerance() throws {
        let r = try runBinary(["gradcheck", data, "--sample", "4", "--max-entries", "10", "--tolerance", "1e-15"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("softlabel gradcheck: gradient check failed: layer1.weight "))
        #expect(r.stderr.hasSuffix(" above tolerance 1e-15\n"))
    }
}
