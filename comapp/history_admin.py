"""History screens that show past versions and never write them back.

django-simple-history's history form saves a POSTed old version for anyone with the view-history
permission (``SIMPLE_HISTORY_REVERT_DISABLED`` only hides the button): a "revert" would move a state
machine backwards, around its transitions, its commands and the business timeline. Models whose state a
machine owns use ``ReadOnlyHistoryAdmin``: the form is read-only and a POST to it is refused (405) for
every user, superusers included.
"""
from django.http import HttpResponseNotAllowed
from simple_history.admin import SimpleHistoryAdmin


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"],
                                          "History is read-only: state changes only through commands.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True
