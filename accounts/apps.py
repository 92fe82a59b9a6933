from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People and teams"

    def ready(self):
        from django.contrib.auth import signals

        from . import login_audit

        signals.user_logged_in.connect(login_audit.on_user_logged_in, dispatch_uid="audit-login")
        signals.user_logged_out.connect(login_audit.on_user_logged_out, dispatch_uid="audit-logout")
        signals.user_login_failed.connect(login_audit.on_user_login_failed, dispatch_uid="audit-login-failed")
