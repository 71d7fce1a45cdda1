"""A person in the loop, as the ledger holds it: the calls put to them and their answers.

Calls journals an `approval_asked` record (the model reply's seq and the call's index in it)
before the run moves to Approve; Approve journals one `approval_answered` record naming the
question. A call therefore has at most one question and one answer, whatever crashes."""

from __future__ import annotations

from dataclasses import dataclass

from jetbox.store.acts import Answer, ApprovalMode, Question
from jetbox.store.records import Records, last_of

YES, NO, ALWAYS = "yes", "no", "always"


def run_mode(records: Records) -> ApprovalMode | None:
    """The approval setting the run was last given (it holds on resume unless given
    again): its mode, and its skips where the record has them."""
    record = last_of(records, ApprovalMode)
    return record if isinstance(record, ApprovalMode) else None


def qid_of(records: Records, question: Question) -> str:
    """A question's id: its own, else (an older ledger) `q<n>` by its place in the run."""
    if question.qid:
        return question.qid
    asked = [r.seq for r in records if isinstance(r, Question)]
    return f"q{asked.index(question.seq) + 1}" if question.seq in asked else "q?"


def next_qid(records: Records) -> str:
    """The id the run's next question gets: q1, q2, ..."""
    return f"q{sum(isinstance(r, Question) for r in records) + 1}"


def question_for(records: Records, reply_seq: int, index: int) -> Question | None:
    """The question about call `index` of the reply journaled as `reply_seq`, if asked."""
    return next((r for r in records if isinstance(r, Question) and r.reply == reply_seq
                 and r.index == index), None)


def answer_to(records: Records, question_seq: int) -> Answer | None:
    """The answer a person gave to the question journaled as `question_seq`, if any."""
    return next((r for r in records if isinstance(r, Answer) and r.asked == question_seq), None)


def open_question(records: Records) -> Question | None:
    """The newest question, if it has no answer yet."""
    question = last_of(records, Question)
    return question if question is not None and answer_to(records, question.seq) is None \
        else None


@dataclass(frozen=True)
class Tally:
    asked: int
    approved: int
    refused: int

    @classmethod
    def of(cls, records: Records) -> Tally:
        answers = [r.answer for r in records if isinstance(r, Answer)]
        return cls(sum(isinstance(r, Question) for r in records),
                   sum(a in (YES, ALWAYS) for a in answers), answers.count(NO))

    def line(self) -> str:
        return f"{self.asked} asked, {self.approved} approved, {self.refused} refused"
