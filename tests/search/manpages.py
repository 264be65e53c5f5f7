"""A relevance suite on real text nobody here wrote: Debian's Russian man pages (``manpages-ru``,
``manpages-ru-dev``), converted to articles, and natural queries typed as a support engineer would.

The conversion is part of the fixture: each page goes through ``groff -k -Tutf8 -mandoc`` (its own
preprocessor for the encoding), overstrikes removed, lines not wrapped; the NAME line gives the
title, the first paragraph of the description the summary, the rest the body. Pages that only
include another (``.so``) and short pages are left out. Used by tests/search/test_manpages.py and
by ``scripts/bench/search.py relevance``.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MAN_ROOT = Path("/usr/share/man/ru")
SECTIONS = ("man1", "man2", "man3", "man4", "man5", "man7", "man8")
MIN_ROFF_BYTES = 7_000  # "long" pages: about 4,000 characters of text and more
MIN_PAGES = 300

_HEADINGS_NAME = ("ИМЯ", "НАЗВАНИЕ", "NAME")
_HEADINGS_DESCRIPTION = ("ОПИСАНИЕ", "DESCRIPTION")


def available() -> str | None:
    """Why the suite cannot run here, or None."""
    if not MAN_ROOT.is_dir() or not (MAN_ROOT / "man2" / "kill.2.gz").exists():
        return "Debian's manpages-ru and manpages-ru-dev are not installed (scripts/test installs them)"
    if not Path("/usr/bin/groff").exists():
        return "groff is not installed (Debian's groff-base, installed by scripts/test)"
    return None


def _sources() -> list[Path]:
    out = []
    for section in SECTIONS:
        for path in sorted((MAN_ROOT / section).glob("*.gz")):
            if path.is_symlink():
                continue
            raw = gzip.decompress(path.read_bytes())
            if len(raw) >= MIN_ROFF_BYTES and not raw.lstrip().startswith(b".so "):
                out.append(path)
    return out


def _render(path: Path) -> str:
    roff = gzip.decompress(path.read_bytes())
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    done = subprocess.run(["groff", "-k", "-Tutf8", "-mandoc", "-P-cbou", "-rLL=1000n", "-rcR=1"], input=roff,
                          capture_output=True, env=env, timeout=60, check=False)
    return done.stdout.decode("utf-8", "replace")


def _sections(text: str) -> dict[str, list[str]]:
    """Lines of each top-level heading (a line starting at column 0), the page's header and footer dropped."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines()[1:]:
        if line and not line[0].isspace():
            current = line.strip()
            out.setdefault(current, [])
        elif current is not None:
            out[current].append(line.strip())
    if out:
        out.pop(list(out)[-1], None)  # the footer line (source, date, page)
    return out


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs, current = [], []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return [re.sub(r"\s{2,}", " ", p) for p in paragraphs]


def _article(path: Path, text: str) -> dict | None:
    parts = _sections(text)
    name_lines = next((parts[h] for h in _HEADINGS_NAME if h in parts), None)
    if not name_lines:
        return None
    name_line = " ".join(x for x in name_lines if x)
    names, _, what = name_line.partition(" - ")
    if not what:
        return None
    section = path.parent.name
    page = path.name.removesuffix(".gz")
    name, _, number = page.rpartition(".")
    description = next((parts[h] for h in _HEADINGS_DESCRIPTION if h in parts), [])
    paragraphs = _paragraphs(description)
    summary = paragraphs[0] if paragraphs else what
    body_parts = []
    for heading, lines in parts.items():
        if heading in _HEADINGS_NAME:
            continue
        body_parts.append(f"## {heading.capitalize()}\n")
        body_parts.extend(_paragraphs(lines) if heading not in _HEADINGS_DESCRIPTION else paragraphs[1:])
    body = "\n\n".join(body_parts).replace("<", "&lt;").replace(">", "&gt;")
    slug = re.sub(r"[^a-z0-9]+", "-", f"{name}-{number}".lower()).strip("-")[:80]
    title = f"{names.strip()} — {what.strip()}"
    if len(title) > 200:  # the article's limit: the first names stand for a long list of functions
        title = f"{', '.join(names.split(', ')[:3])}, … — {what.strip()}"[:200]
    return dict(path=f"kb/{section}/{slug}.md", title=title,
                summary=summary[:400], kind="consultation", module="platform", tags=["man", section],
                body=body, status="published", visibility="public")


def load() -> list[dict]:
    """The converted pages (≥ MIN_PAGES), one article each; slugs unique."""
    sources = _sources()
    with ThreadPoolExecutor(max_workers=2) as pool:
        texts = list(pool.map(_render, sources))
    articles, seen = [], set()
    for path, text in zip(sources, texts, strict=True):
        article = _article(path, text)
        if article is not None and article["path"] not in seen:
            seen.add(article["path"])
            articles.append(article)
    return articles


def slug(article: dict) -> str:
    return article["path"].rsplit("/", 1)[1].removesuffix(".md")


# (what a support engineer types, the pages that answer it: any of them counts)
QUERIES: list[tuple[str, tuple[str, ...]]] = [
    # questions, with words the page does not contain
    ("как послать сигнал другому процессу", ("kill-2",)),
    ("как создать дочерний процесс", ("fork-2", "vfork-2")),
    ("создание дочернего процесса", ("fork-2", "vfork-2")),
    ("как дождаться завершения дочернего процесса", ("wait-2",)),
    ("ожидание изменения состояния процесса", ("wait-2",)),
    ("как запустить другую программу из процесса", ("execve-2", "exec-3", "system-3")),
    ("как изменить права доступа к файлу", ("chmod-2",)),
    ("изменение владельца файла", ("chown-2",)),
    ("смена владельца файла", ("chown-2",)),
    ("как переименовать файл", ("rename-2",)),
    ("переименование или перемещение файла", ("rename-2",)),
    ("обрезать файл до нужного размера", ("truncate-2",)),
    ("усечение файла", ("truncate-2",)),
    ("как создать каталог", ("mkdir-2",)),
    ("удалить файл", ("unlink-2",)),
    ("создать символьную ссылку", ("symlink-2", "symlink-7")),
    ("прочитать значение символической ссылки", ("readlink-2",)),
    ("как открыть файл для записи", ("open-2", "fopen-3")),
    ("закрыть файловый дескриптор", ("close-2",)),
    ("сменить пароль пользователя", ("passwd-1",)),
    ("как добавить нового пользователя", ("useradd-8", "newusers-8")),
    ("изменение учётной записи пользователя", ("usermod-8",)),
    ("создать группу пользователей", ("groupadd-8",)),
    ("срок действия пароля истекает", ("chage-1", "shadow-5")),
    ("какие процессы держат файл открытым", ("fuser-1",)),
    ("завершить все процессы по имени", ("killall-1",)),
    ("дерево процессов", ("pstree-1",)),
    ("перекодировать текст из одной кодировки в другую", ("iconv-1", "iconv-3")),
    ("зависимости программы от библиотек", ("ldd-1",)),
    ("шестнадцатеричный дамп файла", ("xxd-1",)),
    ("как примонтировать файловую систему", ("mount-2",)),
    ("отмонтировать диск", ("umount-2",)),
    ("ограничение ресурсов процесса", ("getrlimit-2",)),
    ("приоритет процесса", ("getpriority-2", "sched-7")),
    ("задать приоритет планирования процесса", ("getpriority-2", "sched-setscheduler-2", "sched-setattr-2")),
    ("привязать процесс к процессору", ("sched-setaffinity-2", "cpuset-7")),
    ("отображение файла в память", ("mmap-2",)),
    ("заблокировать страницы в памяти", ("mlock-2",)),
    ("защита области памяти", ("mprotect-2", "pkeys-7")),
    ("установить обработчик сигнала", ("sigaction-2", "signal-2")),
    ("заблокировать сигналы", ("sigprocmask-2",)),
    ("ожидание сигнала", ("sigwaitinfo-2", "signalfd-2")),
    ("ожидать сигнал синхронно", ("sigwaitinfo-2",)),
    ("прерывание системного вызова сигналом", ("signal-7", "restart-syscall-2")),
    ("межпроцессное взаимодействие через канал", ("pipe-2", "pipe-7")),
    ("создать канал между процессами", ("pipe-2", "pipe-7")),
    ("очередь сообщений posix", ("mq-overview-7", "mq-open-3")),
    ("семафоры", ("sem-overview-7", "semget-2", "semop-2")),
    ("разделяемая память", ("shmget-2",)),
    ("принять входящее соединение", ("accept-2",)),
    ("установить соединение с сервером по сокету", ("connect-2",)),
    ("отправить данные в сокет", ("send-2", "sendmmsg-2")),
    ("параметры сокета", ("getsockopt-2", "socket-7")),
    ("преобразовать имя узла в адрес", ("getaddrinfo-3",)),
    ("файл hosts", ("hosts-5",)),
    ("настройка DNS резолвера", ("resolv-conf-5", "host-conf-5")),
    ("дамп памяти при падении программы", ("core-5",)),
    ("таймер процесса", ("timer-create-2", "getitimer-2", "time-7")),
    ("усыпить процесс на несколько наносекунд", ("nanosleep-2", "clock-nanosleep-2")),
    ("текущее время системы", ("gettimeofday-2", "time-7")),
    ("часовой пояс", ("tzset-3", "zdump-8")),
    ("следить за изменениями файлов", ("inotify-7", "fanotify-7")),
    ("пространства имён", ("namespaces-7",)),
    ("мандаты процесса", ("capabilities-7",)),
    ("трассировка процесса отладчиком", ("ptrace-2",)),
    ("загрузить модуль ядра", ("init-module-2",)),
    ("перезагрузка системы", ("reboot-2",)),
    ("динамически загрузить библиотеку", ("dlopen-3",)),
    ("код последней ошибки", ("errno-3",)),
    ("нити posix", ("pthreads-7",)),
    # one word, other word forms, typos
    ("сигналы", ("signal-7",)),
    ("семафор", ("sem-overview-7", "semget-2", "semop-2")),
    ("epoll", ("epoll-7",)),
    ("сокеты unix", ("unix-7",)),
    ("процес создаёт копию", ("fork-2",)),
    ("синхранизация файла с диском", ("fsync-2", "sync-file-range-2")),
    ("пременная errno", ("errno-3",)),
    # codes
    ("SIGKILL", ("signal-7", "kill-2")),
    ("SIGCHLD дочерний процесс завершился", ("wait-2", "signal-7", "sigaction-2")),
    ("EINTR", ("signal-7", "errno-3")),
    ("SA_RESTART", ("sigaction-2", "signal-7")),
    ("O_CREAT", ("open-2",)),
    ("ENOENT нет такого файла", ("errno-3", "open-2")),
    ("/etc/nsswitch.conf", ("nsswitch-conf-5",)),
    ("MAP_ANONYMOUS", ("mmap-2",)),
    ("RLIMIT_NOFILE", ("getrlimit-2",)),
    ("TCP_NODELAY", ("tcp-7",)),
    ("IPV6_V6ONLY", ("ipv6-7",)),
    ("CLONE_NEWPID", ("pid-namespaces-7", "namespaces-7")),
    # English
    ("send signal to process", ("kill-2",)),
]


def evaluate(search, queries: list[tuple[str, tuple[str, ...]]] = QUERIES) -> dict:
    """Strict top-1 and top-3 and MRR (over the first ten) of ``search(text) -> [slug, …]``; misses named."""
    top1 = top3 = 0
    reciprocal = 0.0
    misses = []
    for text, expected in queries:
        hits = list(search(text))[:10]
        rank = next((i for i, s in enumerate(hits) if s in expected), None)
        if rank == 0:
            top1 += 1
        if rank is not None and rank < 3:
            top3 += 1
        else:
            misses.append((text, hits[:3]))
        if rank is not None:
            reciprocal += 1 / (rank + 1)
    n = len(queries)
    return {"n": n, "top1": top1, "top3": top3, "mrr": reciprocal / n, "misses": misses}
