"""Questions typed in the chat: answered from the plan, or passed to Department staff.

villager types a question -> the answer from the knowledge base, with its sections;
   not sure -> "the plan doesn't answer that", the closest topics, "ask staff"
   -> the question waits in the staff queue -> /questions (staff) -> a reply -> the
   villager gets it in their chat (outbox) -> staff may add the pair to the knowledge base.

A question typed in the middle of a form is answered too, and the form's question asked
again — but only when it clearly is a question and the answer is a confident match, so a
village's name or a phone number is never taken for one.
"""

from __future__ import annotations

from bot.clock import ZONE
from bot.events import Button
from bot.search import looks_like_question
from handlers import common, knowledge, registration, validation
from handlers.context import Context
from handlers.flow import Flow, Step
from storage import questions as store
from storage.models import Question, User

INTERRUPTIBLE = ("reg", "elig")  # forms in which a typed question is answered in passing
MAX_ANSWER = 1000
QUEUE_PAGE = 4


def knowledge_base(ctx: Context) -> knowledge.KnowledgeBase:
    """The plan's knowledge base plus what staff added (rebuilt only when that changes)."""
    base = knowledge.for_plan(ctx.plan)
    version = store.entries_version(ctx.session, ctx.plan.id)
    if version[0] == 0:
        return base

    def load() -> list[knowledge.Entry]:
        return [
            knowledge.staff_entry(
                e.id, e.question, e.answer, e.language, e.created_at.astimezone(ZONE).date()
            )
            for e in store.entries(ctx.session, ctx.plan.id)
        ]

    return base.extended(version, load)


def answer_text(ctx: Context, base: knowledge.KnowledgeBase, entry: knowledge.Entry) -> str:
    """The answer in the user's language, with the sections (or staff reply) it comes from."""
    lang = ctx.user.language
    body = base.answer(entry, lang)
    if entry.staff is not None:
        source = ctx.t(
            "qa.source_staff",
            controller=ctx.plan.controller.get(lang),
            date=ctx.t.date(entry.staff.answered_on),
        )
    else:
        source = ctx.t("qa.source", sections=sections(ctx, entry), plan=ctx.plan.title.get(lang))
    return f"{body}\n\n{source}"


def sections(ctx: Context, entry: knowledge.Entry) -> str:
    lang = ctx.user.language
    parts = []
    for ref in entry.sections:
        title = ctx.plan.section_title(ref).get(lang)
        key = "qa.preamble" if ref == "preamble" else "qa.section"
        parts.append(ctx.t(key, ref=ref, title=title))
    return ", ".join(parts)


# --- a question outside any form ---------------------------------------------------------


def on_text(ctx: Context) -> None:
    """Any typed text outside a form step is a question."""
    text = ctx.text.strip()
    if not text:
        common.menu(ctx, "common.not_understood")
        return
    base = knowledge_base(ctx)
    if not base.index.analyze(text):  # "xin chào", "ok", "cảm ơn": nothing to look up
        ctx.finish()
        ctx.say("qa.small_talk", buttons=common.main_buttons(ctx))
        return
    match = base.match(text)
    ctx.finish()
    ctx.data = {"question": text[:MAX_ANSWER]}
    if match.entry is not None:
        ctx.audit("question.answered_by_bot", match.entry.id, confidence=round(match.confidence, 2))
        show(ctx, base, match.entry)
    else:
        ctx.audit("question.not_answered", confidence=round(match.confidence, 2))
        not_found(ctx, text, match.suggestions)


def show(ctx: Context, base: knowledge.KnowledgeBase, entry: knowledge.Entry) -> None:
    ctx.goto(FLOW.name, "answered")
    ctx.say_text(
        answer_text(ctx, base, entry),
        buttons=[
            ctx.button("btn.ask_staff", FLOW.payload("answered", "staff")),
            ctx.button("btn.check", "menu:check"),
            ctx.button("btn.register", "menu:register"),
            ctx.button("btn.menu", "menu:menu"),
        ],
    )


def not_found(ctx: Context, text: str, suggestions: tuple[knowledge.Entry, ...]) -> None:
    lang = ctx.user.language
    ctx.goto(FLOW.name, "offer")
    buttons = [Button(e.topic_in(lang), FLOW.payload("offer", f"t.{e.id}")) for e in suggestions]
    buttons.append(ctx.button("btn.ask_staff", FLOW.payload("offer", "staff")))
    buttons.append(ctx.button("btn.menu", "menu:menu"))
    ctx.say(
        "qa.not_found" if suggestions else "qa.not_found_no_topics",
        question=text if len(text) <= 200 else text[:200] + "…",
        controller=ctx.plan.controller.get(lang),
        buttons=buttons,
    )


def on_offer(ctx: Context) -> None:
    value = FLOW.value(ctx)
    if value == "staff":
        hand_off(ctx)
    elif value is not None and value.startswith("t."):
        base = knowledge_base(ctx)
        entry = base.entries.get(value.removeprefix("t."))
        if entry is None:
            common.stale_button(ctx)
        else:
            show(ctx, base, entry)
    else:
        on_text(ctx)


def on_answered(ctx: Context) -> None:
    if FLOW.value(ctx) == "staff":
        hand_off(ctx)
    else:
        on_text(ctx)


def hand_off(ctx: Context) -> None:
    """Pass the question to staff (the person pressed the button: their explicit choice)."""
    text = str(ctx.data.get("question") or "").strip()
    if not text:
        ctx.finish()
        common.menu(ctx, "qa.nothing_to_send")
        return
    waiting = store.open_of(ctx.session, ctx.user)
    same = next((q for q in waiting if q.text == text), None)
    ctx.finish()
    if same is not None:
        ctx.say("qa.already_sent", number=same.id, buttons=common.main_buttons(ctx))
        return
    if len(waiting) >= store.MAX_OPEN_PER_USER:
        ctx.say("qa.too_many", count=len(waiting), buttons=common.main_buttons(ctx))
        return
    question = store.ask(ctx.session, ctx.user, ctx.plan.id, text, ctx.now)
    ctx.audit("question.asked", f"Q{question.id}")
    for staff in store.staff_users(ctx.session):
        ctx.notify(
            staff,
            "qa.staff_new",
            number=question.id,
            question=text,
            dedupe_key=f"question:{question.id}:new:{staff.id}",
        )
    ctx.say(
        "qa.sent",
        number=question.id,
        controller=ctx.plan.controller.get(ctx.user.language),
        buttons=common.main_buttons(ctx),
    )


# --- a question in the middle of a form --------------------------------------------------------


def answer_in_form(ctx: Context, form: Flow) -> bool:
    """Answer a clear question typed into a form step, then ask the step again.

    False (and nothing said) when the text is not clearly a question or the knowledge
    base has no confident answer: then it is the step's answer, validated as usual.
    """
    if ctx.flow not in INTERRUPTIBLE or ctx.event.kind != "text":
        return False
    if not looks_like_question(ctx.text):
        return False
    base = knowledge_base(ctx)
    if len(base.index.analyze(ctx.text)) < 2:  # "Hội gốm" is a name, not "hỏi gồm"
        return False
    match = base.match(ctx.text, threshold=knowledge.IN_FORM_THRESHOLD)
    if match.entry is None:
        return False
    ctx.audit("question.answered_in_form", match.entry.id, step=ctx.step)
    ctx.say_text(answer_text(ctx, base, match.entry))
    ctx.say("qa.back_to_form")
    form.ask(ctx)
    return True


# --- staff: the queue of questions -----------------------------------------------------------


def is_staff(ctx: Context) -> bool:
    return ctx.user.role == "staff"


def refuse(ctx: Context) -> None:
    """Not staff: say so and change nothing (a pending form question is asked again)."""
    ctx.say("qa.staff_only")
    common.resume_or_menu(ctx, quiet=False)


def staff_queue(ctx: Context) -> None:
    """/questions: the oldest open questions, each with a reply button."""
    if not is_staff(ctx):
        refuse(ctx)
        return
    if registration.has_draft(ctx):
        registration.offer_resume(ctx)
        return
    rows, total = store.queue(ctx.session, QUEUE_PAGE)
    ctx.finish()
    if not rows:
        ctx.say("qa.queue_empty", buttons=common.main_buttons(ctx))
        return
    ctx.goto(FLOW.name, "list")
    lines = [
        ctx.t(
            "qa.queue_line",
            number=q.id,
            when=ctx.t.datetime(q.asked_at),
            who=asker_name(ctx, q),
            question=q.text,
        )
        for q in rows
    ]
    buttons = [ctx.button("btn.reply_to", FLOW.payload("list", q.id), number=q.id) for q in rows]
    buttons.append(ctx.button("btn.refresh", FLOW.payload("list", "refresh")))
    ctx.say("qa.queue", count=total, lines="\n".join(lines), buttons=buttons)


def asker_name(ctx: Context, question: Question) -> str:
    asker = ctx.session.get(User, question.user_id)
    if asker is None:
        return "?"
    return f"{asker.display_name or asker.channel_user_id} ({asker.channel})"


def on_list(ctx: Context) -> None:
    if not is_staff(ctx):
        ctx.finish()
        refuse(ctx)
        return
    value = FLOW.value(ctx)
    if value is None or value == "refresh" or not value.isdigit():
        staff_queue(ctx)
        return
    question = ctx.session.get(Question, int(value))
    if question is None or question.status != "open":
        ctx.say("qa.already_answered", number=value)
        staff_queue(ctx)
        return
    ctx.data = {"question_id": question.id}
    FLOW.enter(ctx, "reply")


def ask_reply(ctx: Context) -> None:
    question = ctx.session.get(Question, int(ctx.data.get("question_id", 0)))
    if question is None:
        staff_queue(ctx)
        return
    ctx.say(
        "qa.ask_reply",
        number=question.id,
        who=asker_name(ctx, question),
        question=question.text,
        max_len=MAX_ANSWER,
        buttons=[ctx.button("btn.cancel", FLOW.payload("reply", "cancel"))],
    )


def on_reply(ctx: Context) -> None:
    if not is_staff(ctx):
        ctx.finish()
        refuse(ctx)
        return
    if FLOW.value(ctx) == "cancel":
        ctx.say("qa.reply_cancelled")
        staff_queue(ctx)
        return
    if ctx.event.kind == "button":
        ctx.say("err.use_buttons")
        ask_reply(ctx)
        return
    result = validation.free_text(ctx.text, min_len=2, max_len=MAX_ANSWER)
    if isinstance(result, validation.Invalid):
        ctx.say(result.error, max_len=MAX_ANSWER)
        ask_reply(ctx)
        return
    question = store.get_for_update(ctx.session, int(ctx.data.get("question_id", 0)))
    if question is None or question.status != "open":
        ctx.say("qa.already_answered", number=ctx.data.get("question_id", ""))
        staff_queue(ctx)
        return
    store.answer(ctx.session, question, ctx.user, result.value, ctx.now)
    ctx.audit("question.answered", f"Q{question.id}")
    asker = ctx.session.get(User, question.user_id)
    if asker is not None:
        ctx.notify(
            asker,
            "qa.reply_to_asker",
            question=question.text,
            answer=result.value,
            controller=ctx.plan.controller.get(asker.language),
            dedupe_key=f"question:{question.id}:answer",
        )
    ctx.say("qa.replied", number=question.id)
    FLOW.enter(ctx, "add")


def ask_add(ctx: Context) -> None:
    ctx.say(
        "qa.ask_add",
        buttons=FLOW.buttons(
            ctx,
            "add",
            ("btn.add_kb", "yes"),
            ("btn.no_thanks", "no"),
        ),
    )


def on_add(ctx: Context) -> None:
    if not is_staff(ctx):
        ctx.finish()
        refuse(ctx)
        return
    choice = FLOW.value(ctx)
    if choice not in ("yes", "no"):
        ctx.say("err.use_buttons")
        ask_add(ctx)
        return
    question = ctx.session.get(Question, int(ctx.data.get("question_id", 0)))
    if choice == "yes" and question is not None and question.status == "answered":
        entry = store.entry_for(ctx.session, question) or store.add_entry(
            ctx.session, question, ctx.user, ctx.now
        )
        ctx.audit("kb.entry_added", f"KB{entry.id}", question=question.id)
        ctx.say("qa.added", number=entry.id)
    else:
        ctx.say("qa.not_added")
    staff_queue(ctx)


def handle(ctx: Context) -> None:
    FLOW.handle(ctx)


def _never(ctx: Context) -> None:  # the villager's states ask nothing by themselves
    common.menu(ctx)


FLOW = Flow(
    "qa",
    [
        Step("answered", _never, on_answered),
        Step("offer", _never, on_offer),
        Step("list", staff_queue, on_list),
        Step("reply", ask_reply, on_reply),
        Step("add", ask_add, on_add),
    ],
)
