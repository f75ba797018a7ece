import Foundation
import SoftLabel
import Synchronization

/// SIGINT (Ctrl-C) and SIGTERM. By default a signal ends the process at once, first removing the temporary
/// file of an output being written, so no partial or hidden file is left (exit 130 for SIGINT, 143 for
/// SIGTERM). While `train` runs its epochs (`whileTraining`), the first signal only asks training to stop
/// after the minibatch in flight, so the model so far can be written; a second one ends the process at once.
enum Signals {
    private static let graceful = Atomic<Bool>(false)
    /// The signal that asked training to stop (0: none).
    private static let requested = Atomic<Int32>(0)

    /// Installs the handlers (once per process).
    static func install() {
        let handler: @convention(c) (Int32) -> Void = { signal in
            if Signals.graceful.load(ordering: .acquiring),
               Signals.requested.compareExchange(expected: 0, desired: signal, ordering: .acquiringAndReleasing).exchanged {
                return  // the first signal while training: stop after the minibatch in flight
            }
            PendingTemporary.removeForSignal()
            _exit(128 + signal)
        }
        // A parent may have started us with these signals blocked (the mask is inherited across exec).
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for s in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler = unsafeBitCast(handler, to: sigaction.__Unnamed_union___sigaction_handler.self)
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART  // reads and writes in flight carry on
            sigaction(s, &action, nil)
        }
    }

    /// From here to `endTraining`, the first signal is a stop request (`stopRequested`), not an exit.
    static func beginTraining() {
        requested.store(0, ordering: .releasing)
        graceful.store(true, ordering: .releasing)
    }

    static func endTraining() { graceful.store(false, ordering: .releasing) }

    /// The signal that asked to stop, if any.
    static var stopRequested: Int32? {
        let s = requested.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    static func name(_ signal: Int32) -> String { signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)" }
}

/// Ends a command with a particular exit status after its output (an interrupted run: 130 or 143).
struct ExitStatus: Error {
    var code: Int32
}
