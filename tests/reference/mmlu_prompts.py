# mmlu_prompts.py: Mill's MMLU prompt (BEHAVIOUR.md §4.1, §3.4) written independently in Python: the
# header line, question.strip(), "A. ..".."D. ..", "Answer:", the five dev shots drawn with
# random.Random(seed).sample(dev, min(n_shot, len(dev))) (n_shot 5 unless given), each rendered query + gold (" A".." D", no separator), joined
# with "\n\n". Reads the dev and test rows as JSON lines (DuckDB's reading) and prints
# {"task", "doc_id", "context", "choices", "target"} lines like `mill prompts`.
import json
import random
import sys

subject, dev_file, test_file, limit, seed = sys.argv[1:6]
n_shot = int(sys.argv[6]) if len(sys.argv) > 6 else 5
letters = [" A", " B", " C", " D"]

def query(row):
    head = "The following are multiple choice questions (with answers) about %s.\n\n" % (
        subject.replace("_", " "))
    opts = "".join("%s. %s\n" % (l.strip(), c) for l, c in zip(letters, row["choices"]))
    return head + "Question: " + row["question"].strip() + "\n" + opts + "Answer:"

dev = [json.loads(l) for l in open(dev_file)]
test = [json.loads(l) for l in open(test_file)][: int(limit)]
shots = random.Random(int(seed)).sample(dev, min(n_shot, len(dev)))
block = "\n\n".join(query(s) + letters[int(s["answer"])] for s in shots) + "\n\n"
for i, row in enumerate(test):
    print(json.dumps({"task": "mmlu_" + subject, "doc_id": i, "context": block + query(row),
                      "choices": letters, "target": int(row["answer"])},
                     ensure_ascii=False, separators=(",", ":")))
