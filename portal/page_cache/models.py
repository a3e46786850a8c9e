from django.db import models


class DataChange(models.Model):
    """A transaction that wrote a table the pages read: one row per transaction, written by the
    statement triggers `versions.triggers_install` puts on every watched table. The data version
    counts the visible rows (with those folded into DataVersion), so for other sessions it moves
    only when a write commits."""

    txid = models.BigIntegerField(unique=True)

    class Meta:
        db_table = "portal_datachange"


class DataVersion(models.Model):
    """One row: the number of changes folded away (`versions.changes_fold`) and a random epoch, so that a
    database made again from scratch never repeats the versions of an earlier one."""

    epoch = models.CharField(max_length=32)
    folded = models.BigIntegerField(default=0)

    class Meta:
        db_table = "portal_dataversion"
