"""`portal init`: the data home, database, secret key, content repository, admin account, demo data.

Running it again changes nothing and says so. Domains that need their own
set-up (a signing key, a search index) add a step to ``INIT_STEPS``; domains
with demo data add a seeder to ``DEMO_SEEDERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from portal import migrate
from portal.accounts import security
from portal.accounts import service as accounts
from portal.accounts.models import Organization, Role, User
from portal.config import Settings
from portal.content import ContentRepo
from portal.db import Database
from portal.i18n import message
from portal.policy import SystemActor
from portal.releases import signing
from portal.releases.demo import seed_demo as seed_packages
from portal.tickets.demo import seed_demo as seed_tickets

DEMO_PASSWORD = "demo-password"
DEMO_ORGANIZATIONS = (("romashka", "ООО Ромашка"), ("vector", "АО Вектор"))
# (username, role, organisation, full name, e-mail)
DEMO_USERS = (
    ("ivanova", Role.customer, "romashka", "Анна Иванова", "ivanova@romashka.example"),
    ("petrov", Role.customer, "vector", "Пётр Петров", "petrov@vector.example"),
    ("support", Role.support, None, "Сергей Смирнов (вторая линия)", "support@primoart.example"),
    ("developer", Role.developer, None, "Дмитрий Кузнецов (разработка)", "dev@primoart.example"),
    ("qa", Role.qa, None, "Ольга Попова (тестирование)", "qa@primoart.example"),
    ("writer", Role.writer, None, "Мария Соколова (технический писатель)", "writer@primoart.example"),
)


@dataclass
class InitReport:
    done: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, password

    @property
    def changed(self) -> bool:
        return bool(self.done)


InitStep = Callable[[Settings, Database, InitReport], None]
INIT_STEPS: list[InitStep] = [signing.init_step]
DemoSeeder = Callable[..., None]  # (session=, settings=, report=) -> None
DEMO_SEEDERS: list[DemoSeeder] = [seed_tickets, seed_packages]


def initialise(settings: Settings, *, demo: bool = False, admin_password: str | None = None) -> InitReport:
    report = InitReport()
    home = settings.home_path
    if not home.exists():
        home.mkdir(parents=True)
        report.done.append(message("cli.init.created_home", home=str(home)))
    settings.locks_path.mkdir(parents=True, exist_ok=True)
    if settings.ensure_secret_file():
        report.done.append(message("cli.init.secret_key"))
    db = Database(settings)
    try:
        if migrate.upgrade(db):
            report.done.append(message("cli.init.migrated"))
        if ContentRepo(settings).ensure():
            report.done.append(message("cli.init.created_content", path=str(settings.content_path)))
        for step in INIT_STEPS:
            step(settings, db, report)
        with db.session_scope() as session:
            _ensure_admin(session, report, admin_password)
            if demo:
                _ensure_demo(session, settings, report)
    finally:
        db.dispose()
    return report


def _ensure_admin(session, report: InitReport, password: str | None) -> None:
    if session.scalar(select(User).where(User.username == "admin")):
        return
    password = password or security.generate_password()
    accounts.create_user(session=session, actor=SystemActor.init(), username="admin", role=Role.admin.value,
                         password=password, full_name="Администратор портала")
    report.done.append(message("cli.init.created_admin"))
    report.logins.append(("admin", Role.admin.value, password))


def _ensure_demo(session, settings: Settings, report: InitReport) -> None:
    created_any = False
    for slug, name in DEMO_ORGANIZATIONS:
        if not session.scalar(select(Organization).where(Organization.slug == slug)):
            accounts.create_organization(session=session, actor=SystemActor.init(), slug=slug, name=name)
            created_any = True
    for username, role, org, full_name, email in DEMO_USERS:
        if session.scalar(select(User).where(User.username == username)):
            continue
        accounts.create_user(session=session, actor=SystemActor.init(), username=username, role=role.value,
                             password=DEMO_PASSWORD, organization=org, email=email, full_name=full_name)
        report.logins.append((username, role.value, DEMO_PASSWORD))
        created_any = True
    if created_any:
        report.done.append(message("cli.init.created_demo"))
        for seed in DEMO_SEEDERS:
            seed(session=session, settings=settings, report=report)
