import Foundation

/// The per-epoch table `softlabel train` prints as it runs: fixed, right-aligned columns, "-" where there is
/// no validation data.
public struct EpochTable: Sendable {
    public init() {}

    public var header: String {
        "epoch  train_loss    val_loss      val_kl  val_acc          lr   seconds\n"
    }

    public func row(_ r: EpochRecord) -> String {
        func num(_ v: Double?, _ width: Int, _ f: String) -> String {
            let s = v.map { String(format: f, $0) } ?? "-"
            return String(repeating: " ", count: max(0, width - s.count)) + s
        }
        return num(Double(r.epoch), 5, "%.0f") + num(r.trainLoss, 12, "%.6f") + num(r.valLoss, 12, "%.6f")
            + num(r.valKL, 12, "%.6f") + num(r.valAccuracy, 9, "%.4f") + num(Double(r.learningRate), 12, "%.3e")
            + num(r.seconds, 10, "%.3f") + "\n"
    }
}

/// The training curve as CSV (`softlabel train --log`): one row per epoch, numbers in shortest round-trip
/// form, empty cells where there is no validation data.
public enum EpochLog {
    public static let header = "epoch,train_loss,val_loss,val_kl,val_accuracy,learning_rate,seconds"

    public static func csv(_ history: [EpochRecord]) -> String {
        func cell(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }
        var out = header + "\n"
        for r in history {
            out += "\(r.epoch),\(r.trainLoss),\(cell(r.valLoss)),\(cell(r.valKL)),\(cell(r.valAccuracy))," +
                "\(r.learningRate),\(r.seconds)\n"
        }
        return out
    }
}

/// A one-line progress bar for a long epoch, redrawn in place on a terminal (carriage return, then
/// erase to the end of the line).
public enum ProgressBar {
    /// `\r  epoch 3 [#########...........]  45%  12800/28000\e[K`, 20 cells of bar.
    public static func line(epoch: Int, done: Int, total: Int) -> String {
        let width = 20
        let fraction = total > 0 ? min(max(Double(done) / Double(total), 0), 1) : 1
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let percent = Int((fraction * 100).rounded(.down))
        return "\r  epoch \(epoch) [\(bar)] \(String(repeating: " ", count: 3 - String(percent).count))\(percent)%  \(done)/\(total)\u{1B}[K"
    }

    /// Erases the bar's line.
    public static let clear = "\r\u{1B}[K"
}
