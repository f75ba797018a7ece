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
    /// `\r  epoch 3/200 [#########...........]  45%  12,800/28,000  4,210 ex/s  loss 0.4123  left 0:04, run <= 13:20\e[K`:
    /// 20 cells of bar; the speed and the time left come from the epoch so far (`seconds`), the run's
    /// bound from this epoch's pace times the epochs still allowed (early stopping may end it sooner).
    /// `readRate`: bytes per second read from streamed data files, shown as `read 512 MiB/s` after the speed.
    public static func line(epoch: Int, of epochs: Int, done: Int, total: Int, seconds: Double, loss: Double?,
                            readRate: Double? = nil) -> String {
        let width = 20
        let fraction = total > 0 ? min(max(Double(done) / Double(total), 0), 1) : 1
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let percent = Int((fraction * 100).rounded(.down))
        var s = "\r  epoch \(epoch)/\(epochs) [\(bar)] \(String(repeating: " ", count: 3 - String(percent).count))\(percent)%" +
            "  \(grouped(done))/\(grouped(total))"
        if seconds > 0 && done > 0 {
            let rate = Double(done) / seconds
            s += "  \(grouped(Int(rate.rounded()))) ex/s"
            if let readRate, readRate.isFinite { s += "  read " + MemoryBudget.format(Int(readRate)) + "/s" }
            if let loss, loss.isFinite { s += "  loss " + String(format: "%.4f", loss) }
            let epochLeft = Double(total - done) / rate
            let runLeft = epochLeft + Double(max(epochs - epoch, 0)) * Double(total) / rate
            s += "  left \(clock(epochLeft))"
            if epochs > epoch { s += ", run <= \(clock(runLeft))" }
        }
        return s + "\u{1B}[K"
    }

    /// 1234567 as "1,234,567".
    static func grouped(_ v: Int) -> String {
        let digits = String(abs(v))
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return (v < 0 ? "-" : "") + out
    }

    /// Seconds as m:ss, or h:mm:ss from an hour.
    static func clock(_ seconds: Double) -> String {
        let t = Int(seconds.isFinite ? max(seconds, 0).rounded(.up) : 0)
        let h = t / 3600, m = t / 60 % 60, sec = t % 60
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, sec) : String(format: "%d:%02d", m, sec)
    }

    /// Erases the bar's line.
    public static let clear = "\r\u{1B}[K"
}
