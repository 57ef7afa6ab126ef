"""Trains the poetry model's SentencePiece BPE tokenizer (Debian python3-sentencepiece 0.1.97).

Baichuan-7B's conventions: ids 0 <unk>, 1 <s>, 2 </s>, no pad; byte fallback; "\n" a user-defined
piece; digits user-defined (one token each). Unlike Baichuan-7B (nmt_nfkc, dummy prefix) the
normalizer is the identity and no dummy prefix is added, so every string decodes back exactly —
full-width punctuation (，：) is not folded to ASCII and a leading space is kept.

Input: ../data/tang300.json, build/quantangshi.jsonl, build/quiz-train.jsonl (prepare-data.mjs).
Output: build/tokenizer.model (train.py copies it into the checkpoint).
"""
import json
import os
import sys
import time

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, 'build')
DATA = os.path.join(HERE, '..', 'data')
sys.path.insert(0, HERE)
from corpus import load_quantangshi, load_quiz_train, load_tang300, poem_document, quiz_block  # noqa: E402

VOCAB_SIZE = 5000
# Every ASCII letter and the usual ASCII / CJK punctuation exist as pieces (never byte-encoded).
ASCII = [chr(c) for c in range(0x21, 0x7F) if not chr(c).isdigit()]
CJK_PUNCT = list('，。、；：？！“”‘’《》（）【】「」『』—…·～')
# Split off as whole pieces before BPE, as in Baichuan-7B: newline, tab, digits.
USER_DEFINED = ['\n', '\t'] + [str(d) for d in range(10)]


def corpus_lines(tang300, qts, quiz):
    """The text the tokenizer learns from: the training documents, one line per line (SentencePiece
    reads sentences; "\n" itself is a user-defined piece and needs no statistics)."""
    for p in tang300:
        yield from poem_document(p).split('\n')
    for p in qts:
        yield from poem_document(p).split('\n')
    for q in quiz:
        yield from quiz_block(q, with_answer=True).split('\n')


def main():
    t0 = time.time()
    tang300 = load_tang300()
    qts = load_quantangshi()
    quiz = load_quiz_train()
    lines = [l for l in corpus_lines(tang300, qts, quiz) if l]
    # Characters that must be pieces but are (nearly) absent from the poems: seen once each, on
    # lines of their own (a required character with no occurrence makes the BPE trainer abort).
    lines += ASCII + CJK_PUNCT
    tang_chars = sorted({c for p in tang300 for c in p['title'] + p['author'] + ''.join(p['paragraphs'])})
    required = ''.join(sorted(set(ASCII + CJK_PUNCT + tang_chars) - set(USER_DEFINED)))
    prefix = os.path.join(BUILD, 'tokenizer')
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=prefix,
        model_type='bpe',
        vocab_size=VOCAB_SIZE,
        character_coverage=0.995,
        required_chars=required,
        user_defined_symbols=USER_DEFINED,
        byte_fallback=True,
        split_digits=True,
        normalization_rule_name='identity',
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        max_sentencepiece_length=4,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=2,
        minloglevel=1,
    )
    sp = spm.SentencePieceProcessor(model_file=prefix + '.model')
    check(sp, tang300, qts)
    print(f'tokenizer: {sp.get_piece_size()} pieces, {time.time() - t0:.0f} s -> {prefix}.model')


def check(sp, tang300, qts):
    assert sp.get_piece_size() == VOCAB_SIZE
    assert (sp.id_to_piece(0), sp.id_to_piece(1), sp.id_to_piece(2)) == ('<unk>', '<s>', '</s>')
    assert sp.pad_id() == -1
    # Single pieces: ASCII letters, digits, punctuation, newline.
    for ch in ASCII + CJK_PUNCT + [str(d) for d in range(10)] + ['\n']:
        ids = sp.encode(ch)
        assert len(ids) == 1 and not sp.is_byte(ids[0]) and not sp.is_unknown(ids[0]), (ch, ids, sp.id_to_piece(ids))
    # Answer letters after "答案：" are one piece each, the same as alone.
    for L in 'ABCD':
        ids = sp.encode('答案：' + L)
        assert sp.id_to_piece(ids[-1]) == L, (L, [sp.id_to_piece(i) for i in ids])
    # Exact round trips (byte fallback for anything outside the vocabulary).
    samples = [
        '登鹳雀楼->王之涣\n夜雨寄北->',
        'Hello, world!  Two  spaces, a tab\tand\nnewlines\n\n',
        ' leading space and trailing ',
        '表情 🙂🚀👩‍👩‍👧 emoji, Ωmega, ñ, café, 日本語のテキスト, 한국어',
        '鄜州 龘 𠀀 (rare CJK, outside the vocabulary) 1234567890 ＡＢＣ１２３',
        '以下是中国关于唐诗作者考试的单项选择题，请选出其中的正确答案。\n\n《夜雨寄北》的作者是谁？\nA. 李白\nB. 杜甫\nC. 李商隐\nD. 王维\n答案：C\n\n',
        '\r\n\x00\x7f end',
    ]
    samples += ['\n'.join(p['paragraphs']) for p in tang300[:20]] + ['\n'.join(p['paragraphs']) for p in qts[:200]]
    for s in samples:
        ids = sp.encode(s)
        assert sp.decode(ids) == s, (s, ids)
    # No 唐诗三百首 character needs byte fallback.
    for p in tang300:
        for ch in p['title'] + p['author'] + ''.join(p['paragraphs']):
            ids = sp.encode(ch)
            assert len(ids) == 1 and not sp.is_byte(ids[0]), ch
    n_chars = sum(len(s) for s in samples)
    print('round trip ok on', len(samples), 'strings,', n_chars, 'characters')
    print('seed prompt:', [sp.id_to_piece(i) for i in sp.encode('登鹳雀楼->王之涣\n夜雨寄北->')])


if __name__ == '__main__':
    main()
