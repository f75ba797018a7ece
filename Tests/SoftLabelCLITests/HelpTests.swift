import Testing
import Foundation
import TestSupport

/// The exact `--help` of every command, so any change to an interface is a visible diff.
@Suite struct HelpTests {
    @Test func trainHelp() {
        #expect(runInProcess(["train", "--help"]).stdout == """
        Usage:
          softlabel train DATA.csv --model OUT.json [options]
          softlabel train --features X.npy --labels Y.npy --model OUT.json [options]
          softlabel train FEATURES.csv --annotations VOTES.csv --model OUT.json [--crowd-model NAME] [options]

        Train a softmax classifier (optionally with hidden layers) on soft labels.

        Arguments:
          DATA.csv  training data: features and 'label:<class>', 'label' or 'logit:<class>' columns

        Options:
          --model FILE                Where to write the trained model (JSON). Required.
          --val FILE                  Validation data, reported every epoch.
          --val-features X.npy        Validation features as NPY (with --val-labels), instead of --val.
          --val-labels Y.npy          Validation labels as NPY (with --val-features).
          --val-teacher-logits Z.npy  Validation teacher logits as NPY (with --val-features).
          --checkpoint FILE           Save the training state here at every epoch end and on Ctrl-C/SIGTERM.
          --resume FILE               Continue from a --checkpoint file (same data and options); ends as an uninterrupted run would.
          --init MODEL                Start from a trained model's network and standardisation (fine-tuning).
          --val-fraction F            Hold out this fraction of DATA for validation (seeded). Default 0, or 0.1 with --hidden.
          --patience P                Stop after P epochs without a lower validation loss; keep the best epoch. Default 0 (off), or 10 with --hidden.
          --average E                 Validate and keep weights averaged over ~E epochs (EMA); 0 = off. Default 0, or 1 with --hidden.
          --epochs N                  Passes over the data (L-BFGS: iterations), at most. Default 1000 for lbfgs, 200 otherwise.
          --batch-size B              Examples per minibatch. Default 128.
          --optimizer NAME            sgd|adam|adamw|lbfgs. Default lbfgs (full batch, exact optimum), or adam with --hidden.
          --lr X                      Learning rate (minibatch optimizers). Default: sgd 0.1; adam 0.01, or 0.002 with --hidden.
          --momentum M                SGD momentum. Default 0.9.
          --nesterov                  SGD: Nesterov momentum.
          --beta1 B1                  Adam first-moment decay. Default 0.9.
          --beta2 B2                  Adam second-moment decay. Default 0.999.
          --eps E                     Adam epsilon. Default 1e-08.
          --weight-decay W            AdamW decoupled weight decay. Default 0.01.
          --l2 L                      L2 penalty (L/2)·ΣW² on weights, not biases. Default 0.001.
          --schedule NAME             constant|step|cosine learning-rate schedule. Default cosine.
          --warmup E                  Epochs of linear learning-rate warm-up. Default 0.
          --step-every N              Step schedule: decay every N epochs. Default 30.
          --step-gamma G              Step schedule: multiply the rate by G. Default 0.1.
          --hidden H1,H2              Hidden layer widths (Dense + activation), e.g. 128,64. Default none.
          --activation NAME           relu|gelu|tanh after each hidden layer. Default relu.
          --dropout P                 Drop probability after each hidden activation (training only). Default 0.
          --loss NAME                 kl|ce|reverse-kl|js. Default kl.
          --label-smoothing E         Mix targets with uniform: (1-E)p + E/k. Default 0.
          --target-temperature T      Targets p^(1/T), renormalised (T<1 sharpens). Default 1.
          --distill-temperature T     Distil at T: targets softmax(z/T) of teacher logits, student logits / T, loss times T². Default 1.
          --hard-weight A             Loss (1-A)·T²·soft + A·CE to the hard label ('label' column, else the teacher's argmax). Default 0.
          --class-weight NAME         none|balanced. Default none.
          --seed S                    Seed for shuffling, splitting, initialisation and dropout. Default 1.
          --no-standardize            Use raw features (default: z-score with the training data's mean/std).
          --threads N                 Worker threads (results do not depend on it). Default: all cores.
          --memory SIZE               Memory budget for the data, e.g. 2G or 512M: larger data is streamed. Default: half of RAM or the cgroup limit.
          --log FILE                  Write the per-epoch table as CSV (empty cells without validation).
          --plot FILE                 Write an SVG chart of the losses (and validation accuracy), the kept epoch marked.
          --plot-log                  Log-scale loss axis in the terminal chart and --plot (--plot picks it itself past a decade).
          --quiet                     Print only the final summary line (no table, chart or progress).
          --features X.npy            Read features from an NPY array (rows, features) instead of DATA.csv; shards: 'part-*.npy' or @list.
          --labels Y.npy              NPY labels: (rows, classes) probabilities or counts, or (rows,) class indices; shards too.
          --teacher-logits Z.npy      NPY targets as a teacher's logits (rows, classes); --labels then gives hard classes.
          --classes FILE              NPY: class names, one per line. Default 0, 1, ...
          --feature-names FILE        NPY: feature names, one per line. Default f0, f1, ...
          --delimiter C               CSV cell separator: , ; tab or |. Default: detected from the header line.
          --annotations VOTES.csv     Learn the targets from crowd votes (task, worker, label), joined to the rows by id.
          --crowd-model NAME          With --annotations: soft|dawid-skene|one-coin|votes. Default soft.
          --ids FILE                  With --annotations and --features X.npy: one row id per line (the votes' task ids).
          --em-rounds N               With --annotations: EM rounds (each one training run) at most. Default 20.
          --vote-prior A              With --crowd-model votes: A pseudo-votes per class. Default 0.
          --workers FILE              With --annotations: write one row per worker (as aggregate --workers).
          --task-column NAME          With --annotations: vote table column holding the task id. Default task.
          --worker-column NAME        With --annotations: vote table column holding the worker id. Default worker.
          --label-column NAME         With --annotations: vote table column holding the class name. Default label.
          --min-worker-votes N        With --annotations: drop the votes of workers with fewer than N votes. Default 1 (keep all).
          --honest-prior M            soft: tasks' worth of the prior on a worker's honest share. Default 0.1.
          --noise-prior M             soft: tasks' worth of the uniform prior on a worker's noise votes. Default 1.
          --help                      Show this help and exit.

        Prints one row per epoch, then a chart of the loss curves and a summary line. On a terminal, epochs
        that take over a second show a progress bar on stderr.
        With --annotations, each row is one EM round (crowd steps, then a training run); see the README.

        """)
    }

    @Test func evalHelp() {
        #expect(runInProcess(["eval", "--help"]).stdout == """
        Usage:
          softlabel eval --model M.json DATA.csv [--json]
          softlabel eval --model M.json --features X.npy --labels Y.npy [--classes FILE] [--feature-names FILE] [--json]

        Evaluate a model on labelled data: divergences, accuracy, calibration, per-class table.

        Arguments:
          DATA.csv  data with the model's feature and label columns

        Options:
          --model FILE            The trained model. Required.
          --json                  Print one JSON object instead of the text report.
          --ordinal               The classes are an ordered scale (in the model's order): add wasserstein.
          --plot FILE             Write reliability diagrams (top class and soft labels) as SVG.
          --threads N             Worker threads (results do not depend on it). Default: all cores.
          --memory SIZE           Memory budget for the data, e.g. 2G or 512M: larger data is streamed. Default: half of RAM or the cgroup limit.
          --features X.npy        Read features from an NPY array (rows, features) instead of DATA.csv; shards: 'part-*.npy' or @list.
          --labels Y.npy          NPY labels: (rows, classes) probabilities or counts, or (rows,) class indices; shards too.
          --teacher-logits Z.npy  NPY targets as a teacher's logits (rows, classes); --labels then gives hard classes.
          --classes FILE          NPY: class names, one per line. Default 0, 1, ...
          --feature-names FILE    NPY: feature names, one per line. Default f0, f1, ...
          --delimiter C           CSV cell separator: , ; tab or |. Default: detected from the header line.
          --help                  Show this help and exit.

        Metrics (means over examples; p the label, q = softmax(z / T) the prediction, natural log):
          kl             KL(p‖q)
          cross_entropy  H(p, q) = entropy + kl
          entropy        H(p), of the labels alone
          js             Jensen-Shannon divergence (at most log 2)
          tv             total variation ½ Σ_j |p_j - q_j|
          accuracy       the predicted class (argmax q) is the label's majority class (argmax p)
          top2_accuracy  the majority class is one of the two most probable predicted classes
          brier          Σ_j (q_j - p_j)², summed over classes (not divided by k)
          ece            expected calibration error of max q against accuracy, 15 equal-width bins
          manhattan      Σ_j |p_j - q_j| (= 2 tv)
          entropy_correlation  Pearson correlation of H(p) and H(q) across examples (n/a if either is constant)
          wasserstein    with --ordinal: Σ_j |P_j - Q_j|, P and Q cumulative over the classes in the model's order
        Ties in argmax p or argmax q go to the first class in the model's order.

        """)
    }

    @Test func predictHelp() {
        #expect(runInProcess(["predict", "--help"]).stdout == """
        Usage:
          softlabel predict --model M.json DATA.csv [--format csv|jsonl] [--top K] [--out FILE]
          softlabel predict --model M.json --features X.npy [--feature-names FILE] [--format csv|jsonl] [--top K] [--out FILE]

        Write each example's predicted distribution (or its K most probable classes), with its id.

        Arguments:
          DATA.csv  data with the model's feature columns (label columns are checked, not used)

        Options:
          --model FILE            The trained model. Required.
          --format NAME           csv|jsonl. Default csv.
          --top K                 Only the K most probable classes, most probable first.
          --logits                Write the logits z / T instead of probabilities (a teacher's outputs for distillation).
          --out FILE              Write here (atomically) instead of stdout.
          --ids FILE              NPY: row ids, one per line (or a glob or @list of such files). Default: row numbers from 0.
          --threads N             Worker threads (results do not depend on it). Default: all cores.
          --memory SIZE           Memory budget for the data, e.g. 2G or 512M: larger data is streamed. Default: half of RAM or the cgroup limit.
          --features X.npy        Read features from an NPY array (rows, features) instead of DATA.csv; shards: 'part-*.npy' or @list.
          --labels Y.npy          NPY labels: (rows, classes) probabilities or counts, or (rows,) class indices; shards too.
          --teacher-logits Z.npy  NPY targets as a teacher's logits (rows, classes); --labels then gives hard classes.
          --classes FILE          NPY: class names, one per line. Default 0, 1, ...
          --feature-names FILE    NPY: feature names, one per line. Default f0, f1, ...
          --delimiter C           CSV cell separator: , ; tab or |. Default: detected from the header line.
          --help                  Show this help and exit.

        Output, one line per example, in the data's order:
          csv                id,p:<class>,... (every class, in the model's order)
          csv --top K        id,class_1,p_1,...,class_K,p_K
          jsonl              {"id": ..., "p": {"<class>": q, ...}}
          jsonl --top K      {"id": ..., "top": [{"class": ..., "p": q}, ...]}
          --logits           the same with logit:<class> columns (jsonl: "logit"), z / T in place of q
        Equal probabilities rank in the model's class order.

        """)
    }

    @Test func calibrateHelp() {
        #expect(runInProcess(["calibrate", "--help"]).stdout == """
        Usage:
          softlabel calibrate --model M.json VAL_DATA.csv --out M2.json
          softlabel calibrate --model M.json --features X.npy --labels Y.npy [--classes FILE] [--feature-names FILE] --out M2.json

        Fit one temperature T on held-out data (minimising KL) and save it in a copy of the model.

        Arguments:
          VAL_DATA.csv  held-out data with the model's feature and label columns

        Options:
          --model FILE            The trained model. Required.
          --out FILE              Where to write the calibrated model (may be the same file). Required.
          --threads N             Worker threads (results do not depend on it). Default: all cores.
          --features X.npy        Read features from an NPY array (rows, features) instead of DATA.csv; shards: 'part-*.npy' or @list.
          --labels Y.npy          NPY labels: (rows, classes) probabilities or counts, or (rows,) class indices; shards too.
          --teacher-logits Z.npy  NPY targets as a teacher's logits (rows, classes); --labels then gives hard classes.
          --classes FILE          NPY: class names, one per line. Default 0, 1, ...
          --feature-names FILE    NPY: feature names, one per line. Default f0, f1, ...
          --delimiter C           CSV cell separator: , ; tab or |. Default: detected from the header line.
          --help                  Show this help and exit.

        Predictions become softmax(z / T) for the logits z; T is the minimiser of the mean KL(p‖softmax(z / T))
        over 0.001...1000 (golden-section search on log T, exact to 1e-4), fitted from the model's raw
        logits (any earlier temperature is replaced). eval and predict apply it; argmax, and so accuracy,
        does not change. Fit it on data not used for training, then evaluate on other data.
        ece is against the majority class: with soft labels the KL-optimal T matches the annotators'
        agreement, which can leave ece higher than before for a model that was only mildly over-confident.

        """)
    }

    @Test func compareHelp() {
        #expect(runInProcess(["compare", "--help"]).stdout == """
        Usage:
          softlabel compare --model A.json --model B.json [--model C.json ...] DATA.csv [--json]
          softlabel compare --model A.json --model B.json ... --features X.npy --labels Y.npy [--classes FILE] [--json]

        Evaluate two or more models on the same data and show their metrics side by side.

        Arguments:
          DATA.csv  data with the models' feature and label columns

        Options:
          --model FILE            A trained model; give it two or more times.
          --json                  Print one JSON object: each model's eval --json fields, the differences.
          --bootstrap N           Resamples for the 95% intervals of the differences to the first model; 0 = none. Default 1000.
          --seed S                Seed of the bootstrap resamples. Default 1.
          --ordinal               The classes are an ordered scale (in the first model's order): add wasserstein.
          --plot FILE             Write the models' reliability diagrams overlaid, as SVG.
          --threads N             Worker threads (results do not depend on it). Default: all cores.
          --features X.npy        Read features from an NPY array (rows, features) instead of DATA.csv; shards: 'part-*.npy' or @list.
          --labels Y.npy          NPY labels: (rows, classes) probabilities or counts, or (rows,) class indices; shards too.
          --teacher-logits Z.npy  NPY targets as a teacher's logits (rows, classes); --labels then gives hard classes.
          --classes FILE          NPY: class names, one per line. Default 0, 1, ...
          --feature-names FILE    NPY: feature names, one per line. Default f0, f1, ...
          --delimiter C           CSV cell separator: , ; tab or |. Default: detected from the header line.
          --help                  Show this help and exit.

        Metrics (means over examples; p the label, q = softmax(z / T) the prediction, natural log):
          kl             KL(p‖q)
          cross_entropy  H(p, q) = entropy + kl
          entropy        H(p), of the labels alone
          js             Jensen-Shannon divergence (at most log 2)
          tv             total variation ½ Σ_j |p_j - q_j|
          accuracy       the predicted class (argmax q) is the label's majority class (argmax p)
          top2_accuracy  the majority class is one of the two most probable predicted classes
          brier          Σ_j (q_j - p_j)², summed over classes (not divided by k)
          ece            expected calibration error of max q against accuracy, 15 equal-width bins
          manhattan      Σ_j |p_j - q_j| (= 2 tv)
          entropy_correlation  Pearson correlation of H(p) and H(q) across examples (n/a if either is constant)
          wasserstein    with --ordinal: Σ_j |P_j - Q_j|, P and Q cumulative over the classes in the model's order
        Ties in argmax p or argmax q go to the first class in the model's order.

        """)
    }

    @Test func inspectHelp() {
        #expect(runInProcess(["inspect", "--help"]).stdout == """
        Usage:
          softlabel inspect DATA.csv [--json]
          softlabel inspect --features X.npy [--labels Y.npy] [--json]

        Summarise a data file: sizes, class balance, label entropy, feature ranges, parse time.

        Arguments:
          DATA.csv  data in the CSV format (labels optional)

        Options:
          --json                  Print one JSON object instead of the text report.
          --threads N             Worker threads (results do not depend on it). Default: all cores.
          --memory SIZE           Memory budget for the data, e.g. 2G or 512M: larger data is streamed. Default: half of RAM or the cgroup limit.
          --features X.npy        Read features from an NPY array (rows, features) instead of DATA.csv; shards: 'part-*.npy' or @list.
          --labels Y.npy          NPY labels: (rows, classes) probabilities or counts, or (rows,) class indices; shards too.
          --teacher-logits Z.npy  NPY targets as a teacher's logits (rows, classes); --labels then gives hard classes.
          --classes FILE          NPY: class names, one per line. Default 0, 1, ...
          --feature-names FILE    NPY: feature names, one per line. Default f0, f1, ...
          --delimiter C           CSV cell separator: , ; tab or |. Default: detected from the header line.
          --help                  Show this help and exit.

        majority: rows whose largest target probability is that class (ties go to the first class);
        split: rows whose label is not one-hot (max p < 1); entropy in nats.

        """)
    }

    @Test func gradcheckHelp() {
        #expect(runInProcess(["gradcheck", "--help"]).stdout == """
        Usage:
          softlabel gradcheck DATA.csv [--hidden H1,H2] [--loss NAME] [options]

        Check the analytic gradients against central finite differences in Double.

        Arguments:
          DATA.csv  data with features and labels (a sample of its rows is used)

        Options:
          --hidden H1,H2           Hidden layer widths (Dense + activation), e.g. 128,64. Default none.
          --activation NAME        relu|gelu|tanh after each hidden layer. Default relu.
          --dropout P              Drop probability after each hidden activation (training only). Default 0.
          --loss NAME              kl|ce|reverse-kl|js. Default kl.
          --l2 L                   L2 penalty (L/2)·ΣW² on weights, not biases. Default 0.001.
          --label-smoothing E      Mix targets with uniform: (1-E)p + E/k. Default 0.
          --target-temperature T   Targets p^(1/T), renormalised (T<1 sharpens). Default 1.
          --distill-temperature T  Distil at T: targets softmax(z/T) of teacher logits, student logits / T, loss times T². Default 1.
          --hard-weight A          Loss (1-A)·T²·soft + A·CE to the hard label ('label' column, else the teacher's argmax). Default 0.
          --class-weight NAME      none|balanced. Default none.
          --seed S                 Seed for shuffling, splitting, initialisation and dropout. Default 1.
          --sample N               Rows to use (the first N after a seeded shuffle). Default 16.
          --max-entries M          Entries checked per tensor (a seeded sample). Default 300.
          --step H                 Finite-difference step. Default 1e-5.
          --tolerance T            Largest accepted relative error. Default 1e-3.
          --features X.npy         Read features from an NPY array (rows, features) instead of DATA.csv; shards: 'part-*.npy' or @list.
          --labels Y.npy           NPY labels: (rows, classes) probabilities or counts, or (rows,) class indices; shards too.
          --teacher-logits Z.npy   NPY targets as a teacher's logits (rows, classes); --labels then gives hard classes.
          --classes FILE           NPY: class names, one per line. Default 0, 1, ...
          --feature-names FILE     NPY: feature names, one per line. Default f0, f1, ...
          --delimiter C            CSV cell separator: , ; tab or |. Default: detected from the header line.
          --help                   Show this help and exit.

        The gradients come from the training code (Float); the finite differences from an independent
        Double implementation of the objective, at random weights (He initialisation for every layer).
        Relative error per entry: |analytic - numeric| / max(|numeric|, 1e-3 · largest |numeric| of the tensor).
        Exit status 1 when any tensor exceeds the tolerance.

        """)
    }

    @Test func convertHelp() {
        #expect(runInProcess(["convert", "--help"]).stdout == """
        Usage:
          softlabel convert DATA.csv --out DIR [--float16]

        Write a CSV data file as NPY features, labels, ids and names (one streaming pass, any size).

        Arguments:
          DATA.csv  data in the CSV format ('-': standard input)

        Options:
          --out DIR      The folder to write into (made if missing). Required.
          --float16      Store features as float16 (half the size; values rounded to float16).
          --delimiter C  CSV cell separator: , ; tab or |. Default: detected from the header line.
          --threads N    Worker threads (results do not depend on it). Default: all cores.
          --help         Show this help and exit.

        Writes into DIR:
          features.npy        (rows, features) float32, or float16 with --float16
          feature_names.txt   the feature columns' names, one per line
          labels.npy          label:<class> columns as written (rows, classes) float32 (counts stay counts),
                              or a 'label' column as (rows,) int64 indices into classes.txt
          teacher_logits.npy  logit:<class> columns (rows, classes) float32
          classes.txt         the class names, one per line
          ids.txt             the id column (or the data rows' numbers from 1), one per line
        Each file appears only when complete. The data trains as the CSV file does: the same model bytes.

        """)
    }
}

/// The README's option list is the program's own: the block after `<!-- train --help -->` is exactly what
/// `softlabel train --help` prints.
@Suite struct ReadmeOptionTests {
    @Test func readmeShowsTheTrainHelp() throws {
        let readme = try String(contentsOfFile: packagePath("README.md"), encoding: .utf8)
        let marker = try #require(readme.range(of: "<!-- train --help -->\n```\n"))
        let end = try #require(readme.range(of: "```\n", range: marker.upperBound..<readme.endIndex))
        #expect(String(readme[marker.upperBound..<end.lowerBound]) == runInProcess(["train", "--help"]).stdout)
    }
}
