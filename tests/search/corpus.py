"""A fixture knowledge base of PrimoART support articles and the relevance suite over it.

Used by the tests and by ``scripts/bench/search.py relevance`` (which compares the analyzers).
"""

from __future__ import annotations

from portal.knowledge.frontmatter import join

ARTICLES: list[dict] = [
    dict(path="kb/rum/agent-not-starting.md", title="RUM-агент не запускается после обновления браузера",
         summary="Агент RUM не стартует на страницах после обновления Chrome; данные о сеансах перестают приходить.",
         kind="problem", module="rum", product_versions=["5.2.0", "5.2.1"], tickets=["PRM-2026-00042"],
         fixed_in=["PKG-5.2.1-03"], tags=["агент", "браузер"],
         body="После обновления браузера агент не запускается: в консоли видна ошибка загрузки скрипта.\n\n"
              "## Причина\nСтарая версия сниппета кэшируется браузером.\n\n## Решение\n"
              "1. Обновите сниппет до версии из раздела «Установка».\n2. Очистите кэш CDN.\n"
              "Ошибка исправлена в пакете исправлений для 5.2.1."),
    dict(path="kb/rum/snippet-install.md", title="Как установить JS-сниппет RUM на страницы сайта",
         summary="Пошаговая установка сниппета мониторинга реальных пользователей в шаблон сайта.",
         kind="howto", module="rum", product_versions=["5.1.0", "5.2.0", "5.2.1"], tags=["snippet", "install"],
         body="Вставьте сниппет в раздел <head> каждой страницы как можно выше. Сниппет загружает агент "
              "асинхронно и не замедляет отрисовку.\n\n```html\n<script src=\"/primoart-rum.js\" async></script>\n```\n"
              "Проверьте установку: в панели RUM появятся первые сеансы через пять минут."),
    dict(path="kb/rum/csp-blocks-snippet.md", title="Content-Security-Policy блокирует загрузку сниппета",
         summary="Браузер отказывается выполнять скрипт агента из-за политики CSP сайта.",
         kind="problem", module="rum", product_versions=["5.2.1"], tags=["csp", "безопасность"],
         body="В консоли браузера: Refused to load the script because it violates the Content Security Policy "
              "directive. Добавьте домен коллектора в script-src и connect-src."),
    dict(path="kb/rum/no-data-dashboard.md", title="На дашборде RUM нет данных о сеансах",
         summary="Панель мониторинга пуста, хотя сниппет установлен.",
         kind="problem", module="rum", product_versions=["5.2.0"], tags=["дашборд"],
         body="Если на дашборде нет данных, проверьте, доходят ли маяки до коллектора, и не отфильтрован ли "
              "трафик по IP. Данные появляются с задержкой до пяти минут."),
    dict(path="kb/rum/spa-route-changes.md", title="Переходы в SPA не учитываются как просмотры страниц",
         summary="В одностраничных приложениях смена маршрута не создаёт новый просмотр.",
         kind="known_issue", module="rum", product_versions=["5.1.0"], fixed_in=["PKG-5.2.0-01"], tags=["spa"],
         body="Агент версии 5.1 не отслеживает history.pushState. Включите параметр trackSpaRoutes или "
              "обновитесь до 5.2.0."),
    dict(path="kb/rum/core-web-vitals.md", title="Метрики Core Web Vitals в RUM: LCP, CLS и INP",
         summary="Что означают метрики Core Web Vitals и как они считаются агентом.",
         kind="consultation", module="rum", product_versions=["5.2.0", "5.2.1"], tags=["метрики"],
         body="LCP — отрисовка крупнейшего элемента, CLS — сдвиг макета, INP — задержка реакции на ввод. "
              "Значения собираются из PerformanceObserver."),
    dict(path="kb/rum/sampling.md", title="Настройка сэмплирования сеансов RUM",
         summary="Как ограничить долю записываемых сеансов при большом трафике.",
         kind="howto", module="rum", product_versions=["5.2.1"], tags=["сэмплирование", "нагрузка"],
         body="Параметр sampleRate задаёт долю сеансов от 0 до 1. При сэмплировании метрики масштабируются "
              "автоматически."),
    dict(path="kb/rum/js-errors.md", title="Ошибки JavaScript не отображаются в отчёте RUM",
         summary="Сбор ошибок JavaScript включён, но отчёт об ошибках пуст.",
         kind="problem", module="rum", product_versions=["5.2.1"], tags=["javascript"],
         body="Ошибки из скриптов других доменов приходят как Script error без подробностей. Добавьте атрибут "
              "crossorigin и заголовок Access-Control-Allow-Origin."),
    dict(path="kb/rum/proxy-closed-network.md", title="Прокси для RUM-агента в закрытом контуре",
         summary="Как передавать данные агента через прокси заказчика.",
         kind="howto", module="rum", product_versions=["5.2.1"], tags=["прокси"], visibility="customers",
         body="В закрытом контуре агент отправляет маяки на внутренний прокси, который пересылает их в коллектор."),
    dict(path="kb/stm/script-timeout.md", title="STM-скрипт завершается с ERR_CONNECTION_TIMED_OUT",
         summary="Сценарий синтетического мониторинга падает по таймауту соединения.",
         kind="problem", module="stm", product_versions=["5.2.1"], tickets=["PRM-2026-00108"], tags=["сеть"],
         body="Ошибка ERR_CONNECTION_TIMED_OUT означает, что агент не дождался соединения с сайтом. Проверьте "
              "доступность сайта из сети агента и правила межсетевого экрана; при необходимости увеличьте "
              "таймаут шага скрипта."),
    dict(path="kb/stm/http-502.md", title="Проверка STM возвращает HTTP 502 Bad Gateway",
         summary="Синтетическая проверка получает ответ 502 от балансировщика.",
         kind="problem", module="stm", product_versions=["5.2.0", "5.2.1"], tags=["http"],
         body="Код HTTP 502 возвращает прокси или балансировщик, когда сервер приложения не ответил. "
              "Сравните время ответа сервера с тайм-аутом балансировщика."),
    dict(path="kb/stm/http-504.md", title="Ответ 504 Gateway Timeout при синтетической проверке",
         summary="Проверка получает ответ 504: шлюз не дождался сервера.",
         kind="problem", module="stm", product_versions=["5.2.1"], tags=["http"],
         body="Коды 5xx, в том числе HTTP 504, говорят об ошибке на стороне сервера или шлюза. Увеличьте "
              "тайм-аут шлюза или ускорьте ответ приложения."),
    dict(path="kb/stm/script-recorder.md", title="Запись сценария STM в рекордере",
         summary="Как записать сценарий проверки в браузерном рекордере.",
         kind="howto", module="stm", product_versions=["5.2.0", "5.2.1"], tags=["рекордер"],
         body="Откройте рекордер, пройдите путь пользователя на сайте и сохраните сценарий. Шаги можно "
              "редактировать и добавлять проверки текста."),
    dict(path="kb/stm/agent-install-windows.md",
         title="Установка агента синтетического мониторинга на Windows: ошибка 0x80070005",
         summary="Установщик агента STM завершается с кодом 0x80070005 (доступ запрещён).",
         kind="problem", module="stm", product_versions=["5.2.1"], tickets=["PRM-2026-00077"],
         tags=["windows", "установка"],
         body="Код 0x80070005 означает Access denied. Запустите установщик от имени администратора и "
              "проверьте права на каталог C:\\ProgramData\\PrimoART."),
    dict(path="kb/stm/agent-install-file-missing.md", title="Установщик агента STM: файл не найден",
         summary="Установка агента прерывается с кодом 0x80070002.",
         kind="problem", module="stm", product_versions=["5.2.0"], tags=["windows", "установка"],
         body="Код 0x80070002 означает, что установщик не нашёл файл. Скачайте дистрибутив заново."),
    dict(path="kb/stm/captcha.md", title="Сценарий не проходит капчу на странице входа",
         summary="Синтетическая проверка останавливается на капче.",
         kind="consultation", module="stm", product_versions=["5.2.1"], tags=["капча"],
         body="Капчу нельзя проходить автоматически. Попросите владельцев сайта отключить капчу для IP-адресов "
              "агентов или использовать тестовую учётную запись."),
    dict(path="kb/stm/ssl-certificate.md", title="Проверка падает с ошибкой SSL-сертификата",
         summary="Агент STM сообщает ERR_CERT_DATE_INVALID при проверке сайта.",
         kind="problem", module="stm", product_versions=["5.2.1"], tags=["ssl", "сертификат"],
         body="ERR_CERT_DATE_INVALID: срок действия сертификата истёк или часы агента идут неверно. "
              "Обновите сертификат сайта и синхронизируйте время агента."),
    dict(path="kb/stm/schedule.md", title="Расписание запуска синтетических проверок",
         summary="Как задать интервал и окна запуска проверок.",
         kind="howto", module="stm", product_versions=["5.2.0", "5.2.1"], tags=["расписание"],
         body="Проверки запускаются по расписанию с интервалом от одной минуты. Окна обслуживания "
              "приостанавливают запуски."),
    dict(path="kb/platform/upgrade-5-2-1.md", title="Обновление платформы PrimoART до версии 5.2.1",
         summary="Порядок обновления серверов платформы до 5.2.1 и проверки после него.",
         kind="howto", module="platform", product_versions=["5.2.1"], tags=["обновление"],
         body="Перед обновлением до 5.2.1 сделайте резервную копию. Обновите коллекторы, затем сервер "
              "приложений. После обновления проверьте версию 5.2.1 в разделе «О системе»."),
    dict(path="kb/platform/release-5-2-10.md", title="Изменения в версии 5.2.10",
         summary="Новые возможности и исправления выпуска 5.2.10.",
         kind="consultation", module="platform", product_versions=["5.2.10"], tags=["выпуск"],
         body="В версии 5.2.10 ускорена загрузка отчётов и исправлены ошибки экспорта."),
    dict(path="kb/platform/ldap-login.md", title="Вход через LDAP не работает: ошибка авторизации",
         summary="Пользователи домена не могут войти в платформу.",
         kind="problem", module="platform", product_versions=["5.2.0", "5.2.1"], tags=["ldap", "вход"],
         body="Ошибка авторизации LDAP возникает при неверном DN учётной записи поиска или истёкшем пароле. "
              "Проверьте параметры подключения к каталогу."),
    dict(path="kb/platform/license-expired.md", title="Истёк срок лицензии: сбор данных остановлен",
         summary="После окончания лицензии коллекторы перестают принимать данные.",
         kind="problem", module="platform", product_versions=["5.2.1"], tags=["лицензия"],
         body="Когда лицензия истекла, платформа сохраняет собранные данные, но новые не принимает. "
              "Загрузите новый файл лицензии в разделе администрирования."),
    dict(path="kb/platform/disk-space-collector.md", title="Коллектор переполняет диск",
         summary="Каталог очереди коллектора занимает всё место на диске.",
         kind="problem", module="collector", product_versions=["5.2.0", "5.2.1"], tags=["диск"],
         body="Если сервер хранения недоступен, коллектор копит данные в очереди, и диск переполняется. "
              "Ограничьте размер очереди параметром queue.maxSize."),
    dict(path="kb/platform/timezone-reports.md", title="Время в отчётах сдвинуто на три часа",
         summary="Отчёты показывают время UTC вместо местного.",
         kind="known_issue", module="platform", product_versions=["5.2.0"], fixed_in=["PKG-5.2.1-03"],
         tags=["отчёты", "время"],
         body="Часовой пояс пользователя не применяется к отчётам, сформированным по расписанию. "
              "Временное решение: укажите часовой пояс в настройках отчёта."),
    dict(path="kb/platform/api-token.md", title="How to create an API token for the PrimoART REST API",
         summary="Creating, scoping and revoking tokens for REST API integrations.",
         kind="howto", module="platform", product_versions=["5.2.1"], tags=["api"],
         body="Open Settings, then API tokens, and create a token with the scopes your integration needs. "
              "Tokens are shown once; revoke a leaked token immediately."),
    dict(path="kb/platform/export-csv.md", title="Exporting session data to CSV",
         summary="How to export RUM sessions and STM check results as CSV files.",
         kind="howto", module="platform", product_versions=["5.2.0", "5.2.1"], tags=["export"],
         body="Use the Export button of any report. Large exports are prepared in the background and "
              "emailed as a link."),
    dict(path="kb/platform/email-notifications.md", title="Уведомления по e-mail не приходят",
         summary="Оповещения об инцидентах не доходят до почты.",
         kind="problem", module="platform", product_versions=["5.2.1"], tags=["уведомления", "smtp"],
         body="Проверьте параметры SMTP-сервера и журнал отправки. Письма могут попадать в спам."),
    dict(path="kb/platform/backup.md", title="Резервное копирование базы данных платформы",
         summary="Как настроить регулярные резервные копии и проверить восстановление.",
         kind="howto", module="platform", product_versions=["5.2.0", "5.2.1"], tags=["резервное копирование"],
         body="Делайте резервную копию базы данных ежедневно и проверяйте восстановление раз в месяц."),
    # --- articles a customer must never meet ---
    dict(path="kb/internal/debug-collector.md", title="Отладка коллектора через квазиконсоль",
         summary="Служебный режим квазиконсоли для второй линии.",
         kind="howto", module="internal-tools", product_versions=["9.9.9"], tickets=["PRM-2026-00777"],
         tags=["внутреннее"], visibility="internal",
         body="Квазиконсоль открывается ключом --debug-quasi. Агент в этом режиме пишет трассировку запуска. "
              "Код 0x8badf00d означает зависание коллектора."),
    # --- not published: never indexed ---
    dict(path="kb/rum/draft-article.md", title="Черновик о ночных сбоях агента",
         summary="Черновик.", kind="problem", module="rum", status="draft", visibility="public",
         body="Слово черновикслово встречается только здесь."),
    dict(path="kb/stm/archived-article.md", title="Устаревшая инструкция по агенту STM 4.x",
         summary="В архиве.", kind="howto", module="stm", status="archived", visibility="public",
         body="Архивноеслово встречается только здесь."),
]


def article_text(spec: dict) -> str:
    meta = {k: v for k, v in spec.items() if k not in ("path", "body")}
    meta.setdefault("visibility", "public")
    meta.setdefault("status", "published")
    meta.setdefault("authors", ["writer"])
    return join(meta, spec["body"])


def slug(path: str) -> str:
    return path.rsplit("/", 1)[1].removesuffix(".md")


# (query, expected slug in the top 3, must it be first?)
RELEVANCE: list[tuple[str, str, bool]] = [
    # Russian word forms
    ("агент не запускается", "agent-not-starting", True),
    ("запуск агента после обновления", "agent-not-starting", True),
    ("ошибки JavaScript", "js-errors", True),
    ("ошибок javascript в отчете", "js-errors", True),
    ("установка сниппета", "snippet-install", False),
    ("установить сниппет", "snippet-install", False),
    ("нет данных на дашборде", "no-data-dashboard", True),
    ("диск переполняется", "disk-space-collector", True),
    ("лицензия истекла", "license-expired", True),
    ("время в отчетах", "timezone-reports", True),
    ("расписание запусков проверок", "schedule", True),
    ("капча на странице входа", "captcha", True),
    ("вход через LDAP", "ldap-login", True),
    ("уведомления не приходят", "email-notifications", True),
    ("резервные копии базы", "backup", False),
    ("отчеты сдвинуты на три часа", "timezone-reports", True),
    ("прокси в закрытом контуре", "proxy-closed-network", True),
    # exact terms: IDs, error codes, versions
    ("PRM-2026-00042", "agent-not-starting", True),
    ("prm-2026-00108", "script-timeout", True),
    ("ERR_CONNECTION_TIMED_OUT", "script-timeout", True),
    ("err_connection_timed_out скрипт", "script-timeout", True),
    ("HTTP 502", "http-502", True),
    ("502 Bad Gateway", "http-502", True),
    ("0x80070005", "agent-install-windows", True),
    ("0x80070002", "agent-install-file-missing", True),
    ("ERR_CERT_DATE_INVALID", "ssl-certificate", True),
    ("обновление до 5.2.1", "upgrade-5-2-1", True),
    ("5.2.10", "release-5-2-10", True),
    ("PKG-5.2.1-03", "agent-not-starting", False),
    # phrases
    ('"переходы в SPA"', "spa-route-changes", True),
    ('"не запускается"', "agent-not-starting", True),
    ('"Access denied"', "agent-install-windows", True),
    # typos
    ("ашибка авторизации", "ldap-login", True),
    ("сниппэт", "snippet-install", False),
    ("сертефикат", "ssl-certificate", True),
    ("капчя", "captcha", True),
    ("рассписание проверок", "schedule", True),
    # English
    ("API token", "api-token", True),
    ("create tokens", "api-token", True),
    ("export CSV", "export-csv", True),
    ("exporting sessions", "export-csv", True),
    ("snippet installation", "snippet-install", True),
    ("Core Web Vitals", "core-web-vitals", True),
    # synonyms
    ("РУМ сэмплирование", "sampling", True),
    ("мониторинг реальных пользователей сэмплирование", "sampling", True),
    ("синтетический мониторинг 502", "http-502", True),
    ("timeout скрипта", "script-timeout", True),
    ("SSL сертификат", "ssl-certificate", True),
]
