"""Text formats shared by the tokenizer, training and evaluation scripts of the poetry model."""
import csv
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, 'build')
DATA = os.path.normpath(os.path.join(HERE, '..', 'data'))
QUIZ = os.path.join(DATA, 'quiz')
LETTERS = 'ABCD'


def load_tang300():
    with open(os.path.join(DATA, 'tang300.json'), encoding='utf-8') as f:
        return json.load(f)


def load_heldout():
    with open(os.path.join(DATA, 'heldout.json'), encoding='utf-8') as f:
        return json.load(f)


def load_jsonl(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


def load_quantangshi():
    return load_jsonl(os.path.join(BUILD, 'quantangshi.jsonl'))


def load_quiz_train():
    return load_jsonl(os.path.join(BUILD, 'quiz-train.jsonl'))


def header(p):
    """`标题->作者\n`, the seed prompt's form."""
    return f"{p['title']}->{p['author']}\n"


def poem_document(p):
    """A poem as the model reads it: the header line, then one line per paragraph (couplet)."""
    return header(p) + ''.join(line + '\n' for line in p['paragraphs'])


def first_line(p):
    """The recitation target: the poem's text up to and including the first ，。？！；：."""
    text = ''.join(p['paragraphs'])
    for i, ch in enumerate(text):
        if ch in '，。？！；：':
            return text[: i + 1]
    return text


def quiz_prompt_header(subject_zh):
    return f'以下是中国关于{subject_zh}考试的单项选择题，请选出其中的正确答案。\n\n'


def quiz_block(row, with_answer):
    text = f"{row['question']}\nA. {row['A']}\nB. {row['B']}\nC. {row['C']}\nD. {row['D']}\n答案："
    return text + f"{row['answer']}\n\n" if with_answer else text


def load_subjects():
    with open(os.path.join(QUIZ, 'subject_mapping.json'), encoding='utf-8') as f:
        return json.load(f)


def load_quiz_split(subject, split):
    with open(os.path.join(QUIZ, split, f'{subject}_{split}.csv'), encoding='utf-8', newline='') as f:
        return list(csv.DictReader(f))
