"""Reference outputs of the poetry checkpoint: PyTorch float32 on the float16 weights (upcast).

Writes ../reference/:
  pytorch.json       per prompt (no BOS): ids, argmax at every position, top-20 (id, logit) at the
                     last position, the first 8 logits there, 24 greedy ids (each a full forward
                     pass). Same shape as shared/reference/baichuan-tiny/reference.json.
  quiz-pytorch.json  the C-Eval few-shot protocol on the quiz's val split (evaluate.quiz)
  metrics.json       seed prompt, title→author, recitation, held-out perplexity, quiz accuracy
"""
import json
import os
import sys
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sentencepiece as spm  # noqa: E402

from corpus import load_heldout, load_tang300  # noqa: E402
from evaluate import SEED_PROMPT, heldout_perplexity, quiz, recitation, seed_check, title_author  # noqa: E402
from model import BaiChuanForCausalLM, Config, greedy  # noqa: E402

CHECKPOINT = os.path.normpath(os.path.join(HERE, '..', 'checkpoint'))
OUT = os.path.normpath(os.path.join(HERE, '..', 'reference'))

PROMPTS = [
    SEED_PROMPT,                      # the Baichuan-7B README's few-shot example
    '登鹳雀楼->王之涣\n静夜思->',       # title → author, other titles
    '登鹳雀楼->王之涣\n枫桥夜泊->',
    '静夜思->李白\n登鹳雀楼->',
    '登鹳雀楼->王之涣\n',              # recitation
    '春晓->孟浩然\n',
    '夜雨寄北->李商隐\n',
    '长恨歌->白居易\n汉皇重色思倾国，',
    '咏舞->萧德言\n',                  # a held-out poem's header (data/heldout.json)
    'Hello, world! 你好',              # English / mixed text
]


def load(checkpoint):
    with open(os.path.join(checkpoint, 'config.json')) as f:
        cfg = Config.from_hf(json.load(f))
    state = torch.load(os.path.join(checkpoint, 'pytorch_model.bin'), map_location='cpu')
    assert all(v.dtype == torch.float16 for v in state.values())
    model = BaiChuanForCausalLM(cfg)
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    model.eval()
    sp = spm.SentencePieceProcessor(model_file=os.path.join(checkpoint, 'tokenizer.model'))
    return model, sp


@torch.no_grad()
def case(model, sp, prompt):
    ids = sp.encode(prompt)
    logits = model(torch.tensor([ids]))[0]
    last = logits[-1]
    top = torch.topk(last, 20)
    cont = greedy(model, ids, 24)
    return {
        'prompt': prompt,
        'ids': ids,
        'greedy_continuation_ids': cont,
        'greedy_continuation_text': sp.decode(cont),
        'last_position_top20': [[int(i), float(v)] for v, i in zip(top.values, top.indices)],
        'argmax_per_position': [int(i) for i in logits.argmax(-1)],
        'logits_last_position_first8': [float(v) for v in last[:8]],
    }


def dump(name, value):
    with open(os.path.join(OUT, name), 'w', encoding='utf-8') as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write('\n')


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    t0 = time.time()
    os.makedirs(OUT, exist_ok=True)
    model, sp = load(CHECKPOINT)
    dump('pytorch.json', {
        'note': 'float32 forward of the float16 checkpoint (models/poetry/checkpoint), PyTorch '
                f'{torch.__version__}; prompts encoded with no BOS; greedy: each step a full forward pass',
        'cases': [case(model, sp, p) for p in PROMPTS],
    })
    q = quiz(model, sp)
    dump('quiz-pytorch.json', q)
    tang300 = load_tang300()
    metrics = {
        'note': 'PyTorch float32 on the float16 checkpoint, greedy decoding; definitions in models/poetry/README.md '
                'and models/poetry/recipe/evaluate.py',
        'seed_prompt': seed_check(model, sp),
        'title_author': title_author(model, sp, tang300),
        'recitation': recitation(model, sp, tang300),
        'heldout': heldout_perplexity(model, sp, load_heldout()),
        'quiz': {'average_accuracy': q['average_accuracy'],
                 'subjects': {s: {k: v for k, v in r.items() if k != 'questions'} for s, r in q['subjects'].items()}},
    }
    dump('metrics.json', metrics)
    print(json.dumps({k: v for k, v in metrics.items() if k not in ('title_author', 'recitation')}, ensure_ascii=False, indent=1))
    for k in ('title_author', 'recitation'):
        print(k, {kk: vv for kk, vv in metrics[k].items() if kk != 'wrong'})
    print(f'reference outputs in {OUT}, {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
