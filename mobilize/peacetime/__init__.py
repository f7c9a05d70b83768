"""Peacetime duty rosters (平时): the service layer.

Posts, weekly patterns, holidays and one-off shifts (`posts`), the generator of dated shifts (`generation`),
sign-ups within capacity, officer assignment, waitlists and swaps (`staffing`, `swaps`), what a volunteer is busy
with at a time, peacetime and wartime (`conflicts`), reminders and quiet hours (`reminders`, `messages`), check-in,
check-out, service records, certification, points and stars (`service`), the daily gap report and backfill
(`gaps`), SMS conversations about shifts (`sms`), the certificate of service hours (`certificate`) and the demo
roster (`demo`). SQLAlchemy sessions, no Flask and no Redis; the jobs are in `workers/roster.py`.
"""
